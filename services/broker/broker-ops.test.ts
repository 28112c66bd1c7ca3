import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshKeyIn } from './broker-test-support.js';
import { type BrokerTestEnv, startBrokerTestEnv } from './testing.js';

let env: BrokerTestEnv;
let keyLine: string;

const ops = (path: string) => fetch(`http://127.0.0.1:${env.opsPort}${path}`);

/** The value of one exposition line `name{labels} value`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  env = await startBrokerTestEnv({ kubeCertificatesCluster: false });
  keyLine = sshKeyIn(env.dir, 'id_ops', 'ops');
});

afterAll(async () => {
  await env?.stop();
});

describe('broker ops endpoint (its own port): /healthz, /readyz, /metrics', () => {
  it('runs on the store the project chose (SQLite, or PostgreSQL in broker-postgres) and says so', () => {
    const expected =
      process.env.AIRLOCK_TEST_STORE === 'postgres' ? 'request store postgres://' : 'requests.db at schema';
    expect(env.logs).toContainEqual(expect.objectContaining({ message: expect.stringContaining(expected) }));
  });

  it('counts request transitions, decisions, certificates, auth failures and HTTP latency, scraped from the real endpoint', async () => {
    expect(env.opsPort).toBeGreaterThan(0);
    expect(await (await ops('/healthz')).text()).toBe('ok\n');
    const ready = await ops('/readyz');
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);

    const alice = await env.provider.mintIdToken('alice');
    const bob = await env.provider.mintIdToken('bob');
    const request = (reason: string, namespace = 'payments') => ({
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace,
      podPatterns: ['payments-api-*'],
      reason,
      ttlSeconds: 900,
      sshPublicKey: keyLine,
    });
    // new → approved (policy), certificate, approved → revoked.
    const auto = await env.call('POST', '/v1/requests', alice, request('INC-1234 checkout'));
    expect(auto.body.status).toBe('approved');
    expect((await env.call('POST', `/v1/requests/${auto.body.id}/certificate`, alice)).status).toBe(200);
    expect((await env.call('POST', `/v1/requests/${auto.body.id}/revoke`, alice)).status).toBe(200);
    // new → pending → approved by bob; new → pending → denied by bob.
    const manual = await env.call('POST', '/v1/requests', alice, request('look at the backlog'));
    expect((await env.call('POST', `/v1/requests/${manual.body.id}/approve`, bob)).body.status).toBe(
      'approved',
    );
    const other = await env.call('POST', '/v1/requests', alice, request('another look'));
    expect((await env.call('POST', `/v1/requests/${other.body.id}/deny`, bob)).body.status).toBe('denied');
    // new → denied by policy: the profile does not reach billing.
    const refused = await env.call('POST', '/v1/requests', alice, request('INC-1234 billing', 'billing'));
    expect(refused.status).toBe(403);
    // Two refused authentications.
    expect((await env.call('GET', '/v1/whoami')).body.code).toBe('AUTH_REQUIRED');
    expect((await env.call('GET', '/v1/whoami', 'not-a-token')).body.code).toBe('AUTH_INVALID');

    const metrics = await (await ops('/metrics')).text();
    const t = (from: string, to: string) =>
      sample(metrics, `airlock_broker_request_transitions_total{from="${from}",to="${to}"}`);
    expect([
      t('new', 'approved'),
      t('new', 'pending'),
      t('new', 'denied'),
      t('pending', 'approved'),
      t('pending', 'denied'),
      t('approved', 'revoked'),
    ]).toEqual([1, 2, 1, 1, 1, 1]);
    const d = (by: string, decision: string, code = '') =>
      sample(metrics, `airlock_broker_decisions_total{by="${by}",code="${code}",decision="${decision}"}`);
    expect([
      d('policy', 'auto-approved'),
      d('policy', 'needs-approval'),
      d('policy', 'denied', refused.body.code),
      d('approver', 'approve'),
      d('approver', 'deny'),
    ]).toEqual([1, 2, 1, 1, 1]);
    expect(refused.body.code).toBe('SCOPE_NAMESPACE');
    expect(sample(metrics, 'airlock_broker_certificates_issued_total{kind="ssh"}')).toBe(1);
    expect(sample(metrics, 'airlock_broker_auth_failures_total{code="AUTH_REQUIRED"}')).toBe(1);
    expect(sample(metrics, 'airlock_broker_auth_failures_total{code="AUTH_INVALID"}')).toBe(1);
    // Latency by route template (the request id is not a label value), method and status.
    const latency = 'airlock_broker_http_request_duration_seconds';
    expect(sample(metrics, `${latency}_count{method="POST",route="/v1/requests",status="201"}`)).toBe(3);
    expect(
      sample(metrics, `${latency}_count{method="POST",route="/v1/requests/:id/approve",status="200"}`),
    ).toBe(1);
    expect(sample(metrics, `${latency}_count{method="GET",route="/v1/whoami",status="401"}`)).toBe(2);
    expect(sample(metrics, `${latency}_bucket{le="+Inf",method="GET",route="/v1/whoami",status="401"}`)).toBe(
      2,
    );
    expect(metrics).not.toContain(auto.body.id);
  });

  it('/readyz names the SSH CA key when its file is exposed, and the store when its directory cannot be written', async () => {
    chmodSync(env.config.sshCaKeyFile!, 0o644);
    try {
      const exposed = await ops('/readyz');
      expect([exposed.status, await exposed.text()]).toEqual([503, 'not ready: ssh-ca\n']);
    } finally {
      chmodSync(env.config.sshCaKeyFile!, 0o600);
    }
    expect((await ops('/readyz')).status).toBe(200);

    // The store in a directory of its own, which then disappears.
    const storeDir = join(env.dir, 'store');
    mkdirSync(storeDir);
    await env.stopBroker();
    env.config.store = { sqlite: { path: join(storeDir, 'requests.db') }, retentionDays: 90 };
    await env.restartBroker();
    expect((await ops('/readyz')).status).toBe(200);
    rmSync(storeDir, { recursive: true });
    const gone = await ops('/readyz');
    expect([gone.status, await gone.text()]).toEqual([503, 'not ready: store\n']);
  });
});
