import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InMemoryKubeCsrSigner } from '../../broker/kube-csr-signer.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../broker/testing.js';
import { formatPublicKeyLine, generateCaKey } from '../../core/ssh-cert/index.js';
import { parseCsr } from '../../core/x509/index.js';
import { capturedOutput } from './cli-test-support.js';
import { createCsrForKey } from './csr-for-key.js';
import { type CachedCredential, credentialCachePath, isCredentialFresh } from './kube-credential-cache.js';
import { type KubeCredentialsIo, opensslSubject, runCredHelper, runKubeCert } from './kube-credentials.js';
import { runKubeconfig } from './kubeconfig.js';

let env: BrokerTestEnv;
let requestId: string;

function aliceIo(): KubeCredentialsIo & { stdout: string[]; stderr: string[] } {
  const home = join(env.dir, 'home-alice');
  return {
    ...capturedOutput(),
    configDir: join(home, '.config', 'airlock'),
    cacheDir: join(home, '.cache', 'airlock'),
    homeDir: home,
    now: () => env.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

beforeAll(async () => {
  env = await startBrokerTestEnv({ kubeCertificatesCluster: 'dev' });
  const token = await env.provider.mintIdToken('alice');
  const io = aliceIo();
  mkdirSync(io.configDir, { recursive: true });
  writeFileSync(
    join(io.configDir, 'token.json'),
    JSON.stringify({
      broker: env.url,
      ca: env.caFile,
      issuer: env.provider.issuer,
      idToken: token,
      expiresAt: '2099-01-01T00:00:00Z',
    }),
  );
  const created = await env.call('POST', '/v1/requests', token, {
    profile: 'oncall-debug',
    cluster: 'dev',
    namespace: 'payments',
    podPatterns: ['payments-*'],
    reason: 'INC-1234 checkout latency',
    ttlSeconds: 1800,
    sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'alice'),
  });
  expect(created.body.status).toBe('approved');
  requestId = created.body.id;
});

afterAll(async () => {
  await env?.stop();
});

describe('isCredentialFresh', () => {
  const entry = { notAfter: '2026-11-27T10:10:00Z' } as CachedCredential;
  it('is fresh until 60 s before notAfter, and not from then on', () => {
    expect(isCredentialFresh(entry, new Date('2026-11-27T10:08:59.999Z'))).toBe(true);
    expect(isCredentialFresh(entry, new Date('2026-11-27T10:09:00Z'))).toBe(false);
    expect(isCredentialFresh({ ...entry, notAfter: 'garbage' }, new Date(0))).toBe(false);
  });
});

describe('airlock cred-helper against a real broker (in-memory signer)', () => {
  it('prints an ExecCredential, caches it 0600, reuses it, and refreshes it within 60 s of expiry', async () => {
    const signer = env.kubeCsrSigner as InMemoryKubeCsrSigner;
    const io = aliceIo();
    const options = { cluster: 'dev', ttl: '30m' };
    const before = env.now().getTime();
    expect(await runCredHelper(options, io)).toBe(0);
    const after = env.now().getTime();
    const first = JSON.parse(io.stdout.join(''));
    expect(first.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(first.kind).toBe('ExecCredential');
    const cert = new X509Certificate(first.status.clientCertificateData);
    expect(cert.subject).toBe('CN=alice\nO=jit:oncall:payments');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(first.status.clientKeyData).toContain('BEGIN PRIVATE KEY');
    const notAfter = Date.parse(cert.validTo);
    // 30 min from the moment of signing (X.509 times have whole seconds), however long the call took.
    expect(notAfter).toBeGreaterThanOrEqual(before + 1800_000 - 2000);
    expect(notAfter).toBeLessThanOrEqual(after + 1800_000);
    expect(Date.parse(first.status.expirationTimestamp)).toBe(Math.floor(notAfter / 1000) * 1000 - 60_000);
    expect(signer.requests).toHaveLength(1);
    expect(signer.requests[0]?.csrPem).not.toContain('PRIVATE');

    const cachePath = credentialCachePath(io, 'dev');
    expect(statSync(cachePath).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(cachePath, 'utf8')).requestId).toBe(requestId);

    const again = aliceIo();
    await runCredHelper(options, again);
    expect(again.stdout.join('')).toBe(io.stdout.join(''));
    expect(signer.requests).toHaveLength(1);

    // 61 s before expiry the cache is still used; 60 s before, a new certificate is fetched.
    env.advance((notAfter - env.now().getTime()) / 1000 - 61);
    await runCredHelper(options, aliceIo());
    expect(signer.requests).toHaveLength(1);
    env.advance(1);
    const refreshed = aliceIo();
    await runCredHelper({ ...options, keyType: 'ed25519' }, refreshed);
    expect(signer.requests).toHaveLength(2);
    const next = new X509Certificate(JSON.parse(refreshed.stdout.join('')).status.clientCertificateData);
    expect(next.serialNumber).not.toBe(cert.serialNumber);
    expect(next.publicKey.asymmetricKeyType).toBe('ed25519');
    // 60 s of the request remain: the CSR API minimum of 600 s applies.
    expect(signer.requests[1]?.expirationSeconds).toBe(600);
  });

  it('reports REQUEST_NOT_FOUND for a cluster without an approved request', async () => {
    await expect(runCredHelper({ cluster: 'prod-eu', ttl: '30m' }, aliceIo())).rejects.toMatchObject({
      code: 'REQUEST_NOT_FOUND',
    });
  });
});

describe('airlock kubeconfig', () => {
  it('prints a kubeconfig whose user is the cred-helper exec plugin', async () => {
    const io = aliceIo();
    await runKubeconfig(
      { cluster: 'dev', server: 'https://127.0.0.1:6443', ca: env.caFile, ttl: '30m', request: requestId },
      io,
    );
    const kc = new KubeConfig();
    kc.loadFromString(io.stdout.join(''));
    expect(kc.getCurrentCluster()).toMatchObject({ name: 'dev', server: 'https://127.0.0.1:6443' });
    expect(kc.getCurrentUser()?.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'airlock',
      args: ['cred-helper', '--cluster', 'dev', '--ttl', '30m', '--request', requestId],
      interactiveMode: 'Never',
      provideClusterInfo: false,
      installHint: expect.any(String),
    });
  });
});

describe('airlock kube-cert', () => {
  it('prints the subject for openssl, and signs CSRs built for an existing EC or Ed25519 key', async () => {
    const io = aliceIo();
    await runKubeCert({ request: requestId, ttl: '10m', printSubject: true }, io);
    expect(io.stdout.join('')).toBe('/CN=alice/O=jit:oncall:payments\n');
    for (const type of ['ec', 'ed25519'] as const) {
      const { privateKey } =
        type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const keyFile = join(env.dir, `key-${type}.pem`);
      // SEC1 for EC ("EC PRIVATE KEY", as openssl ecparam writes), PKCS#8 for Ed25519.
      writeFileSync(keyFile, privateKey.export({ type: type === 'ec' ? 'sec1' : 'pkcs8', format: 'pem' }));
      const out = aliceIo();
      await runKubeCert({ request: requestId, ttl: '10m', key: keyFile }, out);
      const cert = new X509Certificate(out.stdout.join(''));
      expect(cert.subject).toBe('CN=alice\nO=jit:oncall:payments');
      expect(cert.checkPrivateKey(privateKey)).toBe(true);
      expect(out.stderr.join('')).toContain(`client-key: ${JSON.stringify(keyFile)}`);
    }
  });

  it('refuses an RSA key as usage', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(
      createCsrForKey(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
        commonName: 'a',
        organizations: [],
      }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('builds a CSR whose subject and key the broker reads back', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const csr = await createCsrForKey(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      commonName: 'a/b',
      organizations: ['jit:x', 'jit:y'],
    });
    expect(await parseCsr(csr)).toMatchObject({
      commonName: 'a/b',
      organizations: ['jit:x', 'jit:y'],
      publicKeyAlgorithm: 'ed25519',
      signatureValid: true,
    });
    expect(opensslSubject({ commonName: 'a/b', organizations: ['jit:x'] })).toBe('/CN=a\\/b/O=jit:x');
  });
});
