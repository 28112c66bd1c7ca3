/**
 * The off-pod ack mode at the tier level: an executor (the in-process
 * runtime, real gRPC mTLS) whose trail is the tier's own
 * (`openTierAuditTrail` with `audit.offPodAck`) opens a session only once
 * the audit store (a real OpenTelemetry Collector) has acknowledged its
 * durable `session.opened`; with the store stopped it refuses new sessions
 * and the intents of open ones with AUDIT_UNAVAILABLE. No Kubernetes: the
 * refusals come before any API call, and a granted session needs none.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type FileAuditTrail, parseShippedLogs } from '../../services/core/audit/index.js';
import { openTierAuditTrail } from '../../services/core/service/tier-trust.js';
import {
  CLUSTER_NAME,
  type Gateway,
  newSession,
  startGatewayWithTrail,
  testPolicy,
} from '../support/executor-harness.js';
import { freePort, type RunningCollector, startAuditStore } from '../support/otelcol.js';

const binary = inject('otelcolBinary');
let root: string;
let store: RunningCollector | undefined;
let gateway: Gateway<FileAuditTrail>;
const scope = {
  cluster: CLUSTER_NAME,
  namespace: 'payments',
  podPatterns: ['api-*'],
  profile: 'debug',
  requestId: 'req-ack',
  groups: [],
};

/** The events of trail `trail` the store holds, in the order it wrote them. */
function storedEvents(trail: string): string[] {
  const text = readdirSync(join(root, 'store'))
    .map((name) => readFileSync(join(root, 'store', name), 'utf8'))
    .join('');
  return parseShippedLogs(text)
    .lines.filter((line) => line.trail === trail)
    .map((line) => JSON.parse(line.line).event ?? JSON.parse(line.line).type);
}

/** A kubeconfig naming an address nothing listens on: none of these calls reaches the API. */
function kubeconfigNowhere(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:9' }],
    users: [{ name: 'none', token: 'unused' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kc;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-ack-fail-closed-'));
  const port = await freePort();
  store = await startAuditStore(binary, root, port);
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(join(root, 'audit.key'), key, { mode: 0o600 });
  const audit = await openTierAuditTrail(
    {
      path: join(root, 'audit', 'executor.jsonl'),
      signingKeyFile: join(root, 'audit.key'),
      checkpointEvery: 100,
      checkpointSeconds: 5,
      offPodAck: { endpoint: `http://127.0.0.1:${port}/v1/logs`, trail: 'executor-ack', timeoutMs: 3000 },
    },
    'executor',
    () => new Date(),
  );
  gateway = await startGatewayWithTrail(audit, testPolicy(['payments']), kubeconfigNowhere());
});

afterAll(async () => {
  await gateway?.stop();
  await gateway?.audit.close().catch(() => undefined);
  await store?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('off-pod ack mode: the executor fails closed when the audit store is down', () => {
  it('opens a session once the store has its session.opened; refuses sessions and intents once the store is gone', async () => {
    const open = await newSession(gateway, { scope });
    await open.client.openSession(open.request);
    // No waiting: OpenSession answered after the store acknowledged the durable record.
    expect(storedEvents('executor-ack/executor.jsonl')).toContain('session.opened');

    await store!.stop();
    store = undefined;
    const fresh = await newSession(gateway, { scope });
    await expect(fresh.client.openSession(fresh.request)).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
    expect(gateway.audit.healthy()).toBe(false);
    await expect(open.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
  });
});
