/**
 * kubectl credentials against the hermetic cluster (docs/kubectl.md): the
 * broker signs kube-apiserver-client CSRs through the real CSR API and
 * kube-controller-manager, with a ServiceAccount that holds ONLY the shipped
 * deploy/base/broker-rbac.yaml; the real kubectl runs `airlock cred-helper`
 * (the compiled CLI) as its exec credential plugin. Needs `npm run build`
 * (the `test` script runs it).
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, CertificatesV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeCsrSigner } from '../../services/broker/kube-csr-signer.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../services/broker/testing.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { createCsr } from '../../services/core/x509/index.js';
import {
  adminKubeConfig,
  bindOncallDebug,
  clusterInfo,
  createNamespace,
  createRunningPod,
  uniqueName,
  waitForAuditEvent,
} from '../support/kube.js';

const run = promisify(execFile);
const root = repoRoot();
const cli = join(root, 'bin/airlock.js');
const BROKER_USER = 'system:serviceaccount:airlock-system:airlock-broker';

const admin = adminKubeConfig();
const payments = uniqueName('payments');
const other = uniqueName('other');
let env: BrokerTestEnv;
let dir: string;
let home: string;
let processEnv: NodeJS.ProcessEnv;
let requestId: string;
let aliceToken: string;

/**
 * `kubectl apply -f` with the admin kubeconfig: the shipped file as it is, and
 * idempotent next to other tests that apply deploy/ to the same cluster.
 */
function kubectlApply(file: string): void {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  execFileSync(kubectlPath, ['--kubeconfig', kubeconfigPath, 'apply', '-f', join(root, file)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** The broker's kubeconfig: a TokenRequest token of the airlock-broker ServiceAccount, nothing else. */
async function brokerKubeConfig(): Promise<KubeConfig> {
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace: 'airlock-system',
    name: 'airlock-broker',
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the admin kubeconfig');
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'airlock-broker', token: token.status?.token ?? '' }],
    contexts: [{ name: 'broker', cluster: cluster.name, user: 'airlock-broker' }],
    currentContext: 'broker',
  });
  return kc;
}

async function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(clusterInfo().kubectlPath, args, {
      env: processEnv,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function airlock(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [cli, ...args], { env: processEnv, timeout: 60_000 });
}

function kubeClientIssued(): Record<string, unknown>[] {
  return readFileSync(join(env.dir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter(
      (e) =>
        e.event === 'cert.issued' && (e.details as { kind?: string } | undefined)?.kind === 'kube-client',
    );
}

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/services/cli/commands/kube-credentials.js'))) {
    throw new Error('the CLI is not compiled: run npm run build (npx tsc -p tsconfig.build.json) first');
  }
  await createNamespace(admin, payments);
  await createNamespace(admin, other);
  // The shipped namespace and broker RBAC, as they are in the repository.
  kubectlApply('deploy/base/namespace.yaml');
  kubectlApply('deploy/base/broker-rbac.yaml');
  // The jit group of oncall-debug may read pods in this payments namespace only.
  await bindOncallDebug(admin, payments, 'jit:oncall:payments');
  await createRunningPod(admin, payments, 'payments-api-0', [{ name: 'main' }]);

  env = await startBrokerTestEnv({
    kubeCertificatesCluster: 'dev',
    kubeCsrSigner: createKubeCsrSigner(await brokerKubeConfig()),
  });
  aliceToken = await env.provider.mintIdToken('alice');
  const created = await env.call('POST', '/v1/requests', aliceToken, {
    profile: 'oncall-debug',
    cluster: 'dev',
    namespace: 'payments',
    podPatterns: ['payments-*'],
    reason: 'checkout latency',
    ttlSeconds: 600,
    sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'alice'),
  });
  expect(created.body.status).toBe('pending');
  requestId = created.body.id;
  const approved = await env.call(
    'POST',
    `/v1/requests/${requestId}/approve`,
    await env.provider.mintIdToken('bob'),
    {},
  );
  expect(approved.body.status).toBe('approved');

  // Alice's machine: an `airlock` on PATH (the compiled CLI) and her cached login.
  dir = mkdtempSync(join(tmpdir(), 'airlock-kubectl-'));
  home = join(dir, 'home');
  const bin = join(dir, 'bin');
  mkdirSync(join(home, '.config', 'airlock'), { recursive: true });
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'airlock'),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"\n`,
  );
  chmodSync(join(bin, 'airlock'), 0o755);
  writeFileSync(
    join(home, '.config', 'airlock', 'token.json'),
    JSON.stringify({
      broker: env.url,
      ca: env.caFile,
      issuer: env.provider.issuer,
      idToken: aliceToken,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    }),
    { mode: 0o600 },
  );
  processEnv = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
});

afterAll(async () => {
  await env?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  const core = admin.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name: payments }).catch(() => {});
  await core.deleteNamespace({ name: other }).catch(() => {});
});

describe('kubectl with airlock cred-helper as exec plugin, signed by the real CSR API', () => {
  it('airlock kubeconfig + kubectl: pods in payments-x listed, another namespace Forbidden, cache reused, CSR object gone', async () => {
    const kubeconfig = await airlock([
      'kubeconfig',
      '--cluster',
      'dev',
      '--server',
      clusterInfo().server,
      '--ca',
      clusterInfo().caCertPath,
    ]);
    writeFileSync(join(dir, 'kubeconfig'), kubeconfig.stdout);
    expect(kubeconfig.stdout).not.toMatch(/token/i);

    const started = Date.now();
    const allowed = await kubectl(['get', 'pods', '-n', payments, '-o', 'name']);
    expect(allowed).toMatchObject({ code: 0, stdout: 'pod/payments-api-0\n' });

    const cachePath = join(home, '.cache', 'airlock', 'cred-dev.json');
    const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as { certificate: string; requestId: string };
    expect(cached.requestId).toBe(requestId);
    const cert = new X509Certificate(cached.certificate);
    // Go's pkix writes O before CN; the order carries no meaning.
    expect(cert.subject.split('\n').sort()).toEqual(['CN=alice', 'O=jit:oncall:payments']);
    // expirationSeconds = max(600, min(1800, ~600 s left)) = 600; the signer counts from its own clock.
    const secondsLeft = (Date.parse(cert.validTo) - started) / 1000;
    expect(secondsLeft).toBeGreaterThan(580);
    expect(secondsLeft).toBeLessThanOrEqual(605);

    const denied = await kubectl(['get', 'pods', '-n', other, '-o', 'name']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(
      `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "${other}"`,
    );

    // The second kubectl call used the cached certificate: one issuance in the broker's trail.
    const issued = kubeClientIssued();
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatchObject({
      decision: 'allow',
      request_id: requestId,
      details: {
        kind: 'kube-client',
        serial: cert.serialNumber,
        not_after: new Date(cert.validTo).toISOString(),
      },
    });
    expect(JSON.parse(readFileSync(cachePath, 'utf8')).certificate).toBe(cached.certificate);

    // The Kubernetes audit log names the person and the jit group, authenticated by the certificate.
    const event = await waitForAuditEvent(
      (e) => e.user?.username === 'alice' && e.objectRef?.namespace === payments && e.verb === 'list',
    );
    expect(event.user?.groups).toEqual(['jit:oncall:payments', 'system:authenticated']);

    // The CSR object was deleted after signing.
    const csrs = await admin.makeApiClient(CertificatesV1Api).listCertificateSigningRequest({
      labelSelector: `airlock.dev/request-id=${requestId}`,
    });
    expect(csrs.items).toEqual([]);
  });

  it('refuses a CSR with another CN or an extra O with CSR_SUBJECT_MISMATCH and issues nothing', async () => {
    for (const subject of [
      { commonName: 'bob', organizations: ['jit:oncall:payments'] },
      { commonName: 'alice', organizations: ['jit:oncall:payments', 'payments-admins'] },
    ]) {
      const { csrPem } = await createCsr({ ...subject, keyType: 'ecdsa-p256' });
      const answer = await env.call('POST', `/v1/requests/${requestId}/kube-certificate`, aliceToken, {
        csr: csrPem,
        ttlSeconds: 600,
      });
      expect(answer).toEqual({
        status: 403,
        body: { code: 'CSR_SUBJECT_MISMATCH', message: expect.any(String) },
      });
    }
    expect(kubeClientIssued().filter((e) => e.decision === 'allow')).toHaveLength(1);
  });

  it('airlock kube-cert signs an openssl-made EC CSR and an openssl Ed25519 key, and kubectl authenticates with both', async () => {
    const subject = (await airlock(['kube-cert', '--request', requestId, '--print-subject'])).stdout.trim();
    expect(subject).toBe('/CN=alice/O=jit:oncall:payments');
    const ecKey = join(dir, 'oncall.key');
    const ecCsr = join(dir, 'oncall.csr');
    execFileSync('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      ecKey,
    ]);
    execFileSync('openssl', ['req', '-new', '-key', ecKey, '-subj', subject, '-out', ecCsr]);
    const edKey = join(dir, 'oncall-ed25519.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', edKey]);

    for (const [key, source] of [
      [ecKey, ['--csr', ecCsr]],
      [edKey, ['--key', edKey]],
    ] as const) {
      const out = join(dir, `${source[0].slice(2)}.crt`);
      const signed = await airlock([
        'kube-cert',
        '--request',
        requestId,
        ...source,
        '--ttl',
        '10m',
        '--out',
        out,
      ]);
      expect(signed.stderr).toContain(`client-certificate: ${JSON.stringify(out)}`);
      const cert = new X509Certificate(readFileSync(out));
      expect(cert.subject.split('\n').sort()).toEqual(['CN=alice', 'O=jit:oncall:payments']);
      const listed = await kubectl([
        '--kubeconfig',
        '/dev/null',
        '--server',
        clusterInfo().server,
        '--certificate-authority',
        clusterInfo().caCertPath,
        '--client-certificate',
        out,
        '--client-key',
        key,
        'get',
        'pods',
        '-n',
        payments,
        '-o',
        'name',
      ]);
      expect([source[0], listed.code, listed.stdout, listed.stderr]).toEqual([
        source[0],
        0,
        'pod/payments-api-0\n',
        '',
      ]);
    }
  });

  it("the broker's identity can do nothing but its CSR work", async () => {
    const authz = admin.makeApiClient(AuthorizationV1Api);
    const can = async (attributes: Record<string, string>) =>
      (
        await authz.createSubjectAccessReview({
          body: {
            spec: { user: BROKER_USER, groups: ['system:serviceaccounts'], resourceAttributes: attributes },
          },
        })
      ).status?.allowed === true;
    const csrs = { group: 'certificates.k8s.io', resource: 'certificatesigningrequests' };
    expect(await can({ ...csrs, verb: 'create' })).toBe(true);
    expect(
      await can({
        group: 'certificates.k8s.io',
        resource: 'signers',
        verb: 'approve',
        name: 'kubernetes.io/kube-apiserver-client',
      }),
    ).toBe(true);
    expect(await can({ ...csrs, verb: 'list' })).toBe(false);
    expect(await can({ ...csrs, verb: 'update', subresource: 'status' })).toBe(false);
    expect(
      await can({
        group: 'certificates.k8s.io',
        resource: 'signers',
        verb: 'approve',
        name: 'kubernetes.io/kube-apiserver-client-kubelet',
      }),
    ).toBe(false);
    expect(
      await can({
        group: 'certificates.k8s.io',
        resource: 'signers',
        verb: 'sign',
        name: 'kubernetes.io/kube-apiserver-client',
      }),
    ).toBe(false);
    expect(await can({ resource: 'secrets', verb: 'get', namespace: 'kube-system' })).toBe(false);
    expect(await can({ resource: 'pods', verb: 'list', namespace: payments })).toBe(false);
    expect(await can({ resource: 'users', verb: 'impersonate', name: 'alice' })).toBe(false);
  });
});
