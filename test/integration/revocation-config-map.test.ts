/**
 * Revocation reaches the other pods: the broker publishes its lists to the
 * airlock-revocation ConfigMap (services/broker/revocation-config-map.ts)
 * with exactly deploy/base's RBAC, against the real kube-apiserver. What the
 * ConfigMap holds is read back the way the mediator and executor read their
 * mounted copy (`watchRevocationFiles` over the files kubelet would write).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1ConfigMap, type V1ResourceAttributes } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConfigMapApi,
  createRevocationConfigMapPublisher,
  type PublishResult,
} from '../../services/broker/revocation-config-map.js';
import { DENY_LIST_KEY, KRL_KEY } from '../../services/broker/revocation-merge.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../services/broker/testing.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { watchRevocationFiles } from '../../services/core/service/revocation-files.js';
import { parseCertificateLine, parseDenyList, parseKrl } from '../../services/core/ssh-cert/index.js';
import {
  adminKubeConfig,
  clusterInfo,
  createNamespace,
  serviceAccountMay as may,
  uniqueName,
} from '../support/kube.js';

const NAMESPACE = 'airlock-system';
const NAME = 'airlock-revocation';
const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
let asBroker: KubeConfig;
let keyLine: string;

function kubectlApply(file: string): void {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  const result = spawnSync(
    kubectlPath,
    ['--kubeconfig', kubeconfigPath, 'apply', '-f', join(repoRoot(), 'deploy', 'base', file)],
    { encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An auto-approved request for alice and its certificate line. */
async function certifiedRequest(env: BrokerTestEnv): Promise<{ id: string; line: string }> {
  const alice = await env.provider.mintIdToken('alice');
  const created = await env.call('POST', '/v1/requests', alice, {
    profile: 'oncall-debug',
    cluster: 'prod-eu',
    namespace: 'payments',
    podPatterns: ['payments-api-*'],
    reason: 'INC-4711 checkout latency',
    ttlSeconds: 900,
    sshPublicKey: keyLine,
  });
  expect(created.body.status).toBe('approved');
  const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, alice);
  expect(cert.status).toBe(200);
  return { id: created.body.id, line: cert.body.certificate };
}

beforeAll(async () => {
  // Exactly what deploy/base ships for this: the namespace, the broker's RBAC, the empty ConfigMap.
  kubectlApply('namespace.yaml');
  kubectlApply('broker-rbac.yaml');
  kubectlApply('revocation.yaml');
  const keyFile = join(mkdtempSync(join(tmpdir(), 'airlock-revocation-key-')), 'id_ed25519');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cm', '-f', keyFile]);
  keyLine = readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const token = await core.createNamespacedServiceAccountToken({
    namespace: NAMESPACE,
    name: 'airlock-broker',
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 600 } },
  });
  asBroker = new KubeConfig();
  asBroker.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name: 'broker', token: token.status?.token ?? '' }],
    contexts: [{ name: 'broker', cluster: 'hermetic', user: 'broker' }],
    currentContext: 'broker',
  });
});

describe('the broker ServiceAccount may write the revocation ConfigMap and nothing like it', () => {
  const can = (attributes: V1ResourceAttributes) => may(NAMESPACE, 'airlock-broker', attributes);

  it.each(['get', 'update', 'patch'])(
    '%s on configmaps/airlock-revocation in airlock-system: allowed',
    async (verb) => {
      expect(await can({ namespace: NAMESPACE, verb, resource: 'configmaps', name: NAME })).toBe(true);
    },
  );

  // Ephemeral mode (deploy/'s default) also lets the broker's launcher create, list
  // and delete ConfigMaps in airlock-system (its per-request owner objects):
  // components/ephemeral-tiers/launcher-rbac.yaml, proved by
  // test/integration/deploy-launcher-rbac.test.ts in the same cluster. What stays
  // refused in both modes is below.
  it.each([
    [
      'update another ConfigMap in airlock-system',
      { namespace: NAMESPACE, verb: 'update', resource: 'configmaps', name: 'airlock-policy' },
    ],
    [
      'get another ConfigMap in airlock-system',
      { namespace: NAMESPACE, verb: 'get', resource: 'configmaps', name: 'airlock-ssh-user-ca' },
    ],
    [
      'update a ConfigMap of that name in another namespace',
      { namespace: 'payments', verb: 'update', resource: 'configmaps', name: NAME },
    ],
    ['get a Secret of that name', { namespace: NAMESPACE, verb: 'get', resource: 'secrets', name: NAME }],
    [
      'update a Secret of that name',
      { namespace: NAMESPACE, verb: 'update', resource: 'secrets', name: NAME },
    ],
    [
      'get the SSH CA key Secret',
      { namespace: NAMESPACE, verb: 'get', resource: 'secrets', name: 'airlock-ssh-user-ca-key' },
    ],
  ])('%s: refused', async (_name, attributes) => {
    expect(await can(attributes)).toBe(false);
  });

  it('with its own token: another ConfigMap is refused for real (403)', async () => {
    await expect(
      asBroker
        .makeApiClient(CoreV1Api)
        .readNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-root-ca.crt' }),
    ).rejects.toMatchObject({ code: 403 });
  });
});

describe('the broker publishes revocations to the ConfigMap', () => {
  let env: BrokerTestEnv;

  beforeAll(async () => {
    env = await startBrokerTestEnv({
      kubeCertificatesCluster: false,
      revocationConfigMap: {
        config: { namespace: NAMESPACE, name: NAME, resyncSeconds: 5 },
        api: asBroker.makeApiClient(CoreV1Api),
      },
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  const readConfigMap = () => core.readNamespacedConfigMap({ namespace: NAMESPACE, name: NAME });

  it('publishes at start-up, and a revocation through the broker API reaches the ConfigMap; read back as the tiers read their mount, it revokes exactly that certificate', async () => {
    await waitFor('the start-up publish', async () => (await readConfigMap()).data?.[DENY_LIST_KEY]);
    const revoked = await certifiedRequest(env);
    const kept = await certifiedRequest(env);
    const alice = await env.provider.mintIdToken('alice');
    const answer = await env.call('POST', `/v1/requests/${revoked.id}/revoke`, alice, { comment: 'done' });
    expect(answer.body.status).toBe('revoked');

    const revokedCert = parseCertificateLine(revoked.line).certificate;
    const map = await waitFor('the revocation in the ConfigMap', async () => {
      const current = await readConfigMap();
      return current.data?.[DENY_LIST_KEY]?.includes(`"${revokedCert.serial}"`) ? current : undefined;
    });

    // The files as kubelet writes them from data (text) and binaryData (bytes).
    const dir = mkdtempSync(join(tmpdir(), 'airlock-revocation-mount-'));
    const denyListFile = join(dir, DENY_LIST_KEY);
    const krlFile = join(dir, KRL_KEY);
    writeFileSync(denyListFile, map.data?.[DENY_LIST_KEY] ?? '');
    writeFileSync(krlFile, Buffer.from(map.binaryData?.[KRL_KEY] ?? '', 'base64'));
    const [krlList, denyList] = watchRevocationFiles({
      krlFiles: [krlFile],
      denyListFiles: [denyListFile],
    })();
    const keptCert = parseCertificateLine(kept.line).certificate;
    expect(krlList?.revocationReason(revokedCert)).toBe(`KRL: key id revoked`);
    expect(denyList?.revocationReason(revokedCert)).toBe(`deny list: serial ${revokedCert.serial} revoked`);
    expect(krlList?.revocationReason(keptCert)).toBeUndefined();
    expect(denyList?.revocationReason(keptCert)).toBeUndefined();
    // Directly through the parsers as well.
    expect(parseDenyList(map.data?.[DENY_LIST_KEY] ?? '').revocationReason(revokedCert)).toBeDefined();
    expect(parseKrl(readFileSync(krlFile)).certificateSections.flatMap((s) => s.serials)).toContain(
      revokedCert.serial,
    );

    // Written as the broker's field manager, and the broker reports itself current.
    expect(map.metadata?.managedFields?.some((f) => f.manager === 'airlock-broker')).toBe(true);
    const ops = `http://127.0.0.1:${env.opsPort}`;
    const ready = await fetch(`${ops}/readyz`);
    expect(await ready.text()).toBe('ready\n');
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toContain('airlock_broker_revocation_published 1');
    expect(metrics).toMatch(/airlock_broker_revocation_publish_total\{result="updated"\} [1-9]/);
  });

  it('re-applying deploy/ (kubectl apply) leaves the published lists alone: the manifest names no data', async () => {
    const before = await readConfigMap();
    expect(before.data?.[DENY_LIST_KEY]).toContain('airlock:');
    kubectlApply('revocation.yaml');
    const after = await readConfigMap();
    expect(after.data?.[DENY_LIST_KEY]).toBe(before.data?.[DENY_LIST_KEY]);
    expect(after.binaryData?.[KRL_KEY]).toBe(before.binaryData?.[KRL_KEY]);
  });

  it('a ConfigMap reset by someone (here: the data removed) is repaired by the next publish', async () => {
    const current = await readConfigMap();
    await core.replaceNamespacedConfigMap({
      namespace: NAMESPACE,
      name: NAME,
      body: { metadata: current.metadata, data: {}, binaryData: {} },
    });
    // The periodic resync (every 5 s here, 60 s by default) puts every local revocation back.
    await waitFor('the repaired ConfigMap', async () => {
      const after = await readConfigMap();
      return after.data?.[DENY_LIST_KEY]?.includes('airlock:') ? after : undefined;
    });
  });
});

describe('publishing failures and conflicts against the real apiserver', () => {
  it('where the broker has no rights: revoke still answers, /readyz and the metrics say the ConfigMap is behind', async () => {
    const env = await startBrokerTestEnv({
      kubeCertificatesCluster: false,
      // Same name, another namespace: the Role does not reach it.
      revocationConfigMap: {
        config: { namespace: 'default', name: NAME, resyncSeconds: 60 },
        api: asBroker.makeApiClient(CoreV1Api),
      },
    });
    try {
      // The local files are what revoke waits for: it answers although publishing fails.
      const { id } = await certifiedRequest(env);
      const alice = await env.provider.mintIdToken('alice');
      const answer = await env.call('POST', `/v1/requests/${id}/revoke`, alice, {});
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('revoked');
      expect(readFileSync(env.config.denyListFile, 'utf8')).toContain(`airlock:${id}:alice`);
      const ops = `http://127.0.0.1:${env.opsPort}`;
      const ready = await waitFor('a failed publish', async () => {
        const response = await fetch(`${ops}/readyz`);
        const text = await response.text();
        return text.includes('revocation-configmap') ? { status: response.status, text } : undefined;
      });
      expect(ready).toEqual({ status: 503, text: 'not ready: revocation-configmap\n' });
      const metrics = await (await fetch(`${ops}/metrics`)).text();
      expect(metrics).toContain('airlock_broker_revocation_published 0');
      expect(metrics).toMatch(/airlock_broker_revocation_publish_total\{result="error"\} [1-9]/);
      expect(env.logs).toContainEqual(
        expect.objectContaining({
          level: 'error',
          code: 'KUBERNETES_ERROR',
          detail: expect.stringContaining('HTTP 403'),
        }),
      );
    } finally {
      await env.stop();
    }
  });

  it('a write between the read and the replace gets 409 from the apiserver; the publisher reads again and keeps both', async () => {
    const namespace = uniqueName('revocation-conflict');
    await createNamespace(admin, namespace);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: NAME }, data: { [DENY_LIST_KEY]: '{"keyIds":["before"]}' } },
    });
    let interfered = false;
    // The real API; once, just after the publisher's read, someone else updates the object.
    const api: ConfigMapApi = {
      readNamespacedConfigMap: async (request) => {
        const read: V1ConfigMap = await core.readNamespacedConfigMap(request);
        if (!interfered) {
          interfered = true;
          await core.replaceNamespacedConfigMap({
            namespace,
            name: NAME,
            body: {
              metadata: read.metadata,
              data: { [DENY_LIST_KEY]: '{"keyIds":["before","concurrent"]}' },
            },
          });
        }
        return read;
      },
      replaceNamespacedConfigMap: (request) => core.replaceNamespacedConfigMap(request),
      createNamespacedConfigMap: (request) => core.createNamespacedConfigMap(request),
    };
    const results: PublishResult[] = [];
    const publisher = createRevocationConfigMapPublisher({
      api,
      namespace,
      name: NAME,
      readLocal: async () => ({ denyList: '{"serials":["42"],"keyIds":["local"]}' }),
      clock: () => new Date(),
      log: () => {},
      observe: (result) => results.push(result),
    });
    expect(await publisher.publishOnce()).toBe('updated');
    expect(results).toEqual(['conflict']);
    const after = await core.readNamespacedConfigMap({ namespace, name: NAME });
    expect(JSON.parse(after.data?.[DENY_LIST_KEY] ?? '')).toEqual({
      serials: ['42'],
      keyIds: ['before', 'concurrent', 'local'],
    });
  });
});
