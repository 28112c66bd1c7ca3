/**
 * Retention through the running broker: the sweep prunes requests past
 * `store.retentionDays` that can change nothing more, keeps the rest, and the
 * audit trail still holds the pruned ones. On SQLite here, on PostgreSQL in
 * the broker-postgres project.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from './testing.js';

let env: BrokerTestEnv;

beforeAll(async () => {
  env = await startBrokerTestEnv({ kubeCertificatesCluster: false });
});
afterAll(async () => {
  await env?.stop();
});

describe('broker retention', () => {
  it('prunes finished requests older than retentionDays, keeps pending and recent ones; the audit trail keeps all', async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(env.dir, 'id_retention')]);
    const sshPublicKey = readFileSync(join(env.dir, 'id_retention.pub'), 'utf8').trim();
    // One day of retention and a sweep every second.
    await env.stopBroker();
    env.config.expirySweepSeconds = 1;
    env.config.store = { ...(env.config.store ?? { sqlite: { path: '' } }), retentionDays: 1 };
    await env.restartBroker();
    const alice = await env.provider.mintIdToken('alice');
    const body = {
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      reason: 'checkout latency',
      ttlSeconds: 600,
      sshPublicKey,
    };
    const withdrawn = (await env.call('POST', '/v1/requests', alice, body)).body.id as string;
    expect((await env.call('POST', `/v1/requests/${withdrawn}/deny`, alice, {})).status).toBe(200);
    const pending = (await env.call('POST', '/v1/requests', alice, body)).body.id as string;
    // Two days later (one day of retention, a sweep every second).
    env.advance(2 * 86_400);
    const recent = (await env.call('POST', '/v1/requests', await env.provider.mintIdToken('alice'), body))
      .body.id as string;
    const token = await env.provider.mintIdToken('alice');
    for (let i = 0; i < 100; i++) {
      if ((await env.call('GET', `/v1/requests/${pending}`, token)).status === 404) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await env.call('GET', `/v1/requests/${withdrawn}`, token)).body.code).toBe('REQUEST_NOT_FOUND');
    // The old pending request is expired by the sweep first (audited), then pruned like the withdrawn one.
    expect((await env.call('GET', `/v1/requests/${pending}`, token)).body.code).toBe('REQUEST_NOT_FOUND');
    const kept = await env.call('GET', `/v1/requests/${recent}`, token);
    expect([kept.status, kept.body.status]).toEqual([200, 'pending']);
    expect(env.logs).toContainEqual(expect.objectContaining({ message: 'pruned 2 requests past retention' }));
    const trail = readFileSync(env.config.audit.path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event?: string; request_id?: string });
    const events = (id: string) => trail.filter((e) => e.request_id === id).map((e) => e.event);
    expect(events(withdrawn)).toEqual(['request.created', 'request.denied']);
    expect(events(pending)).toEqual(['request.created', 'request.expired']);
  }, 30_000);
});
