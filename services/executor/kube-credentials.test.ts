import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml, type V1ClusterRole } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { InMemoryKubeCsrSigner, type KubeCsrSigner } from '../core/kube/kube-csr.js';
import { CSR_SIGNING_RULES } from '../core/kube/kube-csr-test-support.js';
import { repoRoot } from '../core/repo/repo-root.js';
import { parseCsr } from '../core/x509/index.js';
import { loadExecutorConfig } from './config.js';
import {
  createCsrCredentials,
  type KubeSessionSubject,
  sessionCertLifetimeSeconds,
} from './kube-credentials.js';
import { unusedExecutorKubeConfig } from './testing.js';

const now = new Date('2030-01-01T00:00:00Z');
const logger = pino({ level: 'silent' });

const executorKubeConfig = unusedExecutorKubeConfig;

const subject = (overrides: Partial<KubeSessionSubject> = {}): KubeSessionSubject => ({
  sessionId: 'Sess_1~x',
  user: 'alice',
  groups: ['jit:debug:payments', 'jit:read:payments'],
  requestId: 'req-1',
  expiresAt: new Date(now.getTime() + 3600_000),
  ...overrides,
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof AirlockError ? error.code : `not an AirlockError: ${String(error)}`;
  }
}

describe('sessionCertLifetimeSeconds', () => {
  it('is the remaining session, rounded up, but never below the CSR API minimum of 600 s', () => {
    expect(sessionCertLifetimeSeconds(new Date(now.getTime() + 3600_000), now)).toBe(3600);
    expect(sessionCertLifetimeSeconds(new Date(now.getTime() + 1800_500), now)).toBe(1801);
    expect(sessionCertLifetimeSeconds(new Date(now.getTime() + 30_000), now)).toBe(600);
    expect(sessionCertLifetimeSeconds(new Date(now.getTime() - 5_000), now)).toBe(600);
  });
});

/** CSR credentials at `now` through `signer`, on the executor's kubeconfig. */
const csrCredentials = (signer: KubeCsrSigner) =>
  createCsrCredentials({ kubeConfig: executorKubeConfig(), signer, clock: () => now, logger });

describe('csr credentials (in-memory signer)', () => {
  it('signs CN=<person>, O=<exactly the jit groups> for the session, and calls with that certificate only', async () => {
    const signer = new InMemoryKubeCsrSigner(() => now);
    const credentials = csrCredentials(signer);
    const session = await credentials.open(subject());
    expect(signer.requests).toHaveLength(1);
    const request = signer.requests[0]!;
    expect(request.name).toMatch(/^airlock-exec-[0-9a-f]{16}-[0-9a-f]{8}$/);
    expect(request.expirationSeconds).toBe(3600);
    const csr = await parseCsr(request.csrPem);
    expect(csr).toMatchObject({
      commonName: 'alice',
      organizations: ['jit:debug:payments', 'jit:read:payments'],
      publicKeyAlgorithm: 'ecdsa-p256',
      signatureValid: true,
    });

    const clients = session.clients({ traceId: 'abc' });
    const user = clients.streaming.getCurrentUser()!;
    // Its own certificate and key; not the executor's token, and nothing to impersonate.
    expect(user.token).toBeUndefined();
    expect(user.impersonateUser).toBeUndefined();
    const certificate = new X509Certificate(Buffer.from(user.certData!, 'base64'));
    expect(certificate.subject).toBe('CN=alice\nO=jit:debug:payments\nO=jit:read:payments');
    expect(certificate.checkPrivateKey(createPrivateKey(Buffer.from(user.keyData!, 'base64')))).toBe(true);
    expect(clients.streaming.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    const options: { headers?: Record<string, unknown> } = {};
    await clients.streaming.applyToHTTPSOptions(options);
    expect(
      Object.keys(options.headers ?? {}).filter((h) => h.toLowerCase().startsWith('impersonate')),
    ).toEqual([]);

    // Released once, however often the session's end is reported: the CSR is deleted by name.
    await session.release();
    await session.release();
    expect(signer.removed).toEqual([request.name]);
  });

  it('fails closed with KUBE_CREDENTIALS_UNAVAILABLE when signing fails, and deletes what it created', async () => {
    const signer = new InMemoryKubeCsrSigner(() => now);
    signer.failNext = new AirlockError('KUBERNETES_ERROR', 'no certificate was issued in time');
    const credentials = csrCredentials(signer);
    expect(await codeOf(credentials.open(subject()))).toBe('KUBE_CREDENTIALS_UNAVAILABLE');
    expect(signer.removed).toEqual([signer.requests[0]!.name]);
  });

  it('refuses a certificate that ends before the session', async () => {
    const inner = new InMemoryKubeCsrSigner(() => now);
    const credentials = createCsrCredentials({
      kubeConfig: executorKubeConfig(),
      // A signer that caps every certificate at 10 minutes (--cluster-signing-duration).
      signer: { sign: (r) => inner.sign({ ...r, expirationSeconds: 600 }), remove: (n) => inner.remove(n) },
      clock: () => now,
      logger,
    });
    expect(await codeOf(credentials.open(subject()))).toBe('KUBE_CREDENTIALS_UNAVAILABLE');
  });

  it('refuses system: principals without asking the signer', async () => {
    const signer = new InMemoryKubeCsrSigner(() => now);
    const credentials = csrCredentials(signer);
    for (const user of ['system:kube-controller-manager', 'system:serviceaccount:ops:runner']) {
      expect(await codeOf(credentials.open(subject({ user })))).toBe('KUBE_CREDENTIALS_UNAVAILABLE');
    }
    expect(signer.requests).toEqual([]);
  });
});

describe('deploy/components/executor-csr', () => {
  const dir = join(repoRoot(), 'deploy', 'components', 'executor-csr');

  it('grants exactly create/get/delete on CSRs, update on their approval, approve on the client signer, and no impersonation', () => {
    const objects = loadAllYaml(readFileSync(join(dir, 'executor-csr-rbac.yaml'), 'utf8')) as {
      kind: string;
    }[];
    const role = objects.find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
    expect(role.rules).toEqual(CSR_SIGNING_RULES);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding']);
  });

  it('ships the base executor config with only kubeCredentials changed to csr', () => {
    const base = JSON.parse(
      readFileSync(join(repoRoot(), 'deploy', 'base', 'config', 'executor.json'), 'utf8'),
    );
    const csr = JSON.parse(readFileSync(join(dir, 'executor.json'), 'utf8'));
    expect(csr).toEqual({ ...base, kubeCredentials: 'csr' });
    expect(loadExecutorConfig(join(dir, 'executor.json')).kubeCredentials).toBe('csr');
  });
});
