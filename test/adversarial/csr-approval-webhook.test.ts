/**
 * Finding 2 of the security review (issue 16): the broker's RBAC, and the
 * executor's in csr mode, let it approve any CSR for the
 * kube-apiserver-client signer, and kube-apiserver itself refuses only
 * O=system:masters there. So a compromised broker could mint a client
 * certificate for `system:kube-controller-manager` (reads every Secret) or
 * `O=kubeadm:cluster-admins`.
 *
 * The fix is the CSR approval webhook (services/admission), run here as the
 * real process from dist/, and registered with the SHIPPED
 * ValidatingWebhookConfiguration (deploy/base/csr-approval-webhook.yaml:
 * rules, failurePolicy, matchConditions) with only its clientConfig pointed
 * at 127.0.0.1. The approvals are made with the broker's own code
 * (`createKubeCsrSigner`) and its own credentials: a token of the
 * airlock-system/airlock-broker ServiceAccount bound by the shipped
 * deploy/base/broker-rbac.yaml (and the executor's, by the shipped csr-mode
 * component). Each refusal is the API server's, with the webhook's message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AdmissionregistrationV1Api,
  CertificatesV1Api,
  CoreV1Api,
  KubeConfig,
  loadAllYaml,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAdmissionTestFiles } from '../../services/admission/testing.js';
import { isAirlockError } from '../../services/core/errors.js';
import { createKubeCsrSigner, kubeCsrObjectName } from '../../services/core/kube/kube-csr.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { createCsr } from '../../services/core/x509/index.js';
import { x509 } from '../../services/core/x509/provider.js';
import { adminKubeConfig, clusterInfo, readAuditEvents } from '../support/kube.js';

const WEBHOOK = 'csr-approval.airlock.dev';
const deploy = (...path: string[]) => join(repoRoot(), 'deploy', ...path);

function kubectl(args: string[]) {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  const result = spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** A token-authenticated KubeConfig for a ServiceAccount of airlock-system. */
async function serviceAccountKubeConfig(name: string): Promise<KubeConfig> {
  const token = await adminKubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccountToken({
      namespace: 'airlock-system',
      name,
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
    });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name, token: token.status?.token }],
    contexts: [{ name, cluster: 'hermetic', user: name }],
    currentContext: name,
  });
  return kc;
}

/** Starts `node dist/services/admission/main.js` and waits for its ready line. */
async function startWebhookProcess(configPath: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'services', 'admission', 'main.js'), '--config', configPath],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const ready = /^ready url=(\S+)/m.exec(stdout);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`admission exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

/** The shipped webhook configuration, pointed at `url` with `caPem` as its caBundle. */
function shippedWebhookConfiguration(url: string, caPem: string): V1ValidatingWebhookConfiguration {
  const [shipped] = loadAllYaml(readFileSync(deploy('base', 'csr-approval-webhook.yaml'), 'utf8')) as [
    V1ValidatingWebhookConfiguration,
  ];
  const webhooks = shipped.webhooks ?? [];
  expect(webhooks.map((w) => [w.name, w.failurePolicy])).toEqual([[WEBHOOK, 'Fail']]);
  return {
    ...shipped,
    webhooks: webhooks.map((w) => ({
      ...w,
      clientConfig: { url: `${url}/csr-approval`, caBundle: Buffer.from(caPem).toString('base64') },
    })),
  };
}

/** What the broker does for `airlock kube-cert`: create, approve, read, delete; resolves with the certificate. */
async function signAs(kc: KubeConfig, commonName: string, groups: string[], expirationSeconds = 1800) {
  const { csrPem } = await createCsr({ commonName, organizations: groups, keyType: 'ecdsa-p256' });
  return createKubeCsrSigner(kc, { timeoutMs: 20_000 }).sign({
    name: kubeCsrObjectName('finding-2'),
    csrPem,
    expirationSeconds,
    approvalMessage: 'adversarial test: finding 2',
  });
}

/** The HTTP status and Status message of a client-node ApiException. */
function kubeStatus(error: unknown): { code: number | undefined; message: string } {
  const { code, body } = error as { code?: number; body?: unknown };
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = body;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return { code, message: typeof message === 'string' ? message : String(body) };
}

/** How Kubernetes refused the broker's signing (the KUBERNETES_ERROR's cause); throws if it did not. */
async function refusal(promise: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isAirlockError(error, 'KUBERNETES_ERROR') && error.detail?.startsWith('approve: ')) {
      return kubeStatus(error.cause);
    }
    throw error;
  }
  throw new Error('the approval was NOT refused: a certificate was issued');
}

describe('adversarial: finding 2 — the API server refuses CSR approvals by airlock identities outside the policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-finding-2-'));
  let webhook: ChildProcess | undefined;
  let broker: KubeConfig;
  let executor: KubeConfig;
  const admissionApi = () => adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);

  beforeAll(async () => {
    // The shipped identities: namespace, ServiceAccounts and the broker's and csr-mode executor's RBAC.
    for (const file of [
      deploy('base', 'namespace.yaml'),
      deploy('components', 'standing-tiers', 'serviceaccounts.yaml'),
      deploy('base', 'broker-rbac.yaml'),
      deploy('components', 'executor-csr', 'executor-csr-rbac.yaml'),
    ]) {
      kubectl(['apply', '-f', file]);
    }
    broker = await serviceAccountKubeConfig('airlock-broker');
    executor = await serviceAccountKubeConfig('airlock-executor');

    // The example policy renders jit:oncall:payments and jit:cluster-read:dev; longest TTL 28800 s.
    const files = await writeAdmissionTestFiles(dir, {
      policyFile: join(repoRoot(), 'docs', 'policy.example.json'),
      cluster: 'dev',
      namespaces: ['payments'],
    });
    const started = await startWebhookProcess(files.configPath);
    webhook = started.child;
    await admissionApi().createValidatingWebhookConfiguration({
      body: shippedWebhookConfiguration(started.url, files.caPem),
    });
    await waitUntilWebhookAnswers();
  });

  /**
   * The API server picks a new webhook configuration up asynchronously. Probe
   * with a dry-run approval (the webhook is called, nothing is stored or
   * signed) of a CSR the webhook refuses, until the refusal comes back.
   */
  async function waitUntilWebhookAnswers(): Promise<void> {
    const api = broker.makeApiClient(CertificatesV1Api);
    const { csrPem } = await createCsr({
      commonName: 'probe',
      organizations: ['jit:not-rendered'],
      keyType: 'ecdsa-p256',
    });
    const created = await api.createCertificateSigningRequest({
      body: {
        metadata: { name: kubeCsrObjectName('probe') },
        spec: {
          request: Buffer.from(csrPem).toString('base64'),
          signerName: 'kubernetes.io/kube-apiserver-client',
          expirationSeconds: 600,
          usages: ['client auth'],
        },
      },
    });
    const name = created.metadata?.name ?? '';
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          await api.replaceCertificateSigningRequestApproval({
            name,
            dryRun: 'All',
            body: {
              ...created,
              status: {
                conditions: [{ type: 'Approved', status: 'True', reason: 'Probe', message: 'probe' }],
              },
            },
          });
        } catch (error) {
          if (kubeStatus(error).message.includes(`admission webhook "${WEBHOOK}" denied`)) return;
          throw error;
        }
        await sleep(100);
      }
      throw new Error('the webhook configuration never took effect');
    } finally {
      await api.deleteCertificateSigningRequest({ name });
    }
  }

  afterAll(async () => {
    await admissionApi()
      .deleteValidatingWebhookConfiguration({ name: 'airlock-csr-approval' })
      .catch(() => {});
    webhook?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finding 2: the broker approving its own CSR for CN=system:kube-controller-manager is refused by the API server', async () => {
    const refused = await refusal(signAs(broker, 'system:kube-controller-manager', []));
    expect(refused.code).toBe(403);
    expect(refused.message).toContain(
      `admission webhook "${WEBHOOK}" denied the request: CSR_SUBJECT_MISMATCH: subject CN "system:kube-controller-manager" is not a person's name`,
    );
  });

  it('finding 2: O=kubeadm:cluster-admins and a TTL over the policy maximum are refused for the broker too', async () => {
    expect(
      (await refusal(signAs(broker, 'mallory', ['jit:oncall:payments', 'kubeadm:cluster-admins']))).message,
    ).toContain(
      'denied the request: CSR_SUBJECT_MISMATCH: subject O "kubeadm:cluster-admins" is not a group the policy renders',
    );
    expect((await refusal(signAs(broker, 'mallory', ['jit:oncall:payments'], 28_801))).message).toContain(
      "denied the request: TTL_TOO_LONG: expirationSeconds 28801 exceeds the policy's maximum of 28800",
    );
  });

  it('finding 2: the executor in csr mode is held to the same rules', async () => {
    expect((await refusal(signAs(executor, 'system:kube-controller-manager', []))).message).toContain(
      `admission webhook "${WEBHOOK}" denied the request: CSR_SUBJECT_MISMATCH`,
    );
  });

  it('records each refusal in the Kubernetes audit log with the webhook’s code', async () => {
    await refusal(signAs(broker, 'system:admin', []));
    const deadline = Date.now() + 10_000;
    let annotated: Record<string, string> | undefined;
    while (annotated === undefined && Date.now() < deadline) {
      annotated = readAuditEvents()
        .map((e) => e as typeof e & { annotations?: Record<string, string> })
        .filter(
          (e) =>
            e.user?.username === 'system:serviceaccount:airlock-system:airlock-broker' &&
            e.objectRef?.subresource === 'approval' &&
            e.responseStatus?.code === 403,
        )
        .map((e) => e.annotations ?? {})
        .find((a) => a[`${WEBHOOK}/reason`]?.includes('"system:admin"'));
      if (annotated === undefined) await sleep(100);
    }
    expect(annotated?.[`${WEBHOOK}/code`]).toBe('CSR_SUBJECT_MISMATCH');
  });

  it('lets an honest CSR through: the person and the policy’s groups, signed by the cluster', async () => {
    const pem = await signAs(broker, 'alice@example.com', ['jit:oncall:payments', 'jit:cluster-read:dev']);
    const certificate = new x509.X509Certificate(pem);
    expect(certificate.subjectName.getField('CN')).toEqual(['alice@example.com']);
    expect(certificate.subjectName.getField('O')).toEqual(['jit:oncall:payments', 'jit:cluster-read:dev']);
  });

  it('finding 2: with the webhook process stopped, the API server refuses every approval by an airlock identity (fail closed)', async () => {
    webhook?.kill('SIGKILL');
    await new Promise((resolve) =>
      webhook?.exitCode !== null ? resolve(undefined) : webhook.once('exit', resolve),
    );
    const refused = await refusal(signAs(broker, 'alice@example.com', ['jit:oncall:payments']));
    expect(refused.code).toBe(500);
    expect(refused.message).toContain(`failed calling webhook "${WEBHOOK}"`);
  });
});
