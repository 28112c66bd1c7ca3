/**
 * Two broker processes on one PostgreSQL server (a real one, started here):
 * 200 requests and their approvals spread over both, approvers racing on the
 * same request, an approval racing a denial, approvals of expired requests,
 * and a broker killed with SIGKILL mid-approval. Afterwards: no request
 * lost, none approved twice or by one person twice, no certificate for a
 * denied or expired request, and every state change the database holds in
 * exactly one broker's audit trail (counted).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerReplica, startBrokerReplica } from '../../services/broker/replica-process.js';
import type { RequestStore } from '../../services/broker/request-store.js';
import { openRequestStore } from '../../services/broker/store/open-store.js';
import {
  type PostgresTestServer,
  startPostgresTestServer,
} from '../../services/broker/store/postgres-test-server.js';
import type { StoreConfig } from '../../services/broker/store/store-config.js';
import { createTestDatabase } from '../../services/broker/store/testing.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../services/broker/testing.js';
import { auditedChanges, changeKey } from '../support/broker-replicas.js';

let server: PostgresTestServer;
let env: BrokerTestEnv;
let storeConfig: StoreConfig;
let store: RequestStore;
let a: BrokerReplica;
let b: BrokerReplica;
const tokens: Record<string, string> = {};
let userKey: string;
/** Calls to replica a that got no answer because it was killed. */
let unansweredAtKill = 0;

/** Runs `work` over `items`, at most `limit` at a time. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T, i);
    }),
  );
  return results;
}

const request = () => ({
  profile: 'oncall-debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['payments-api-*'],
  reason: 'checkout latency',
  ttlSeconds: 1200,
  sshPublicKey: userKey,
});

async function create(on: BrokerReplica): Promise<string> {
  const created = await on.call('POST', '/v1/requests', tokens.alice ?? '', request());
  expect([created.status, created.body.status]).toEqual([201, 'pending']);
  return created.body.id as string;
}

const approve = (on: BrokerReplica, user: string, id: string) =>
  on.call('POST', `/v1/requests/${id}/approve`, tokens[user] ?? '', {});

beforeAll(async () => {
  server = await startPostgresTestServer();
  const url = await createTestDatabase(server.url);
  storeConfig = {
    postgres: { url, tls: 'disable', poolSize: 5, connectTimeoutSeconds: 5 },
    retentionDays: 90,
  };
  env = await startBrokerTestEnv({ store: storeConfig, kubeCertificatesCluster: false });
  await env.stopBroker(); // only the two replicas serve
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(env.dir, 'id_alice')]);
  userKey = readFileSync(join(env.dir, 'id_alice.pub'), 'utf8').trim();
  // The example policy, with two distinct approvers needed for oncall-debug.
  const policy = JSON.parse(readFileSync(env.config.policyFile, 'utf8'));
  policy.profiles['oncall-debug'].approval.manual.count = 2;
  const policyFile = join(env.dir, 'policy-two-approvers.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  const replicas = ['a', 'b'].map((name) =>
    startBrokerReplica(env, name, { policyFile, expirySweepSeconds: 1 }),
  );
  a = await replicas[0]!;
  b = await replicas[1]!;
  tokens.alice = await env.provider.mintIdToken('alice');
  tokens.bob = await env.provider.mintIdToken('bob');
  tokens.carol = await env.provider.mintIdToken('carol', { groups: ['payments-leads'] });
  tokens.erin = await env.provider.mintIdToken('erin', { groups: ['payments-leads'] });
  store = (await openRequestStore(storeConfig, new Date())).store;
}, 120_000);

afterAll(async () => {
  await a?.stop('SIGKILL');
  await b?.stop('SIGKILL');
  await store?.close();
  await env?.stop();
  await server?.stop();
});

describe('two broker replicas on one PostgreSQL database', () => {
  const ids: string[] = [];

  it('200 requests, their approvals by two people and their certificates, spread over both', async () => {
    const created = await pool(Array.from({ length: 200 }), 20, (_, i) => create(i % 2 ? b : a));
    ids.push(...created);
    const votes = created.flatMap((id, i) => [
      { id, user: 'bob', on: i % 2 ? a : b },
      { id, user: 'carol', on: i % 2 ? b : a },
    ]);
    const answers = await pool(votes, 20, (v) => approve(v.on, v.user, v.id));
    expect(answers.filter((r) => r.status !== 200)).toEqual([]);
    // The certificate, fetched from both replicas at once: signed once.
    const certs = await pool(created, 10, async (id) =>
      Promise.all([a, b].map((on) => on.call('POST', `/v1/requests/${id}/certificate`, tokens.alice ?? ''))),
    );
    for (const [fromA, fromB] of certs) {
      expect([fromA?.status, fromB?.status]).toEqual([200, 200]);
      expect(fromA?.body.certificate.serial).toBe(fromB?.body.certificate.serial);
    }
    const stored = await Promise.all(created.map((id) => store.get(id)));
    expect(stored.map((r) => r?.status)).toEqual(created.map(() => 'approved'));
    for (const r of stored) expect(r?.approvals.map((v) => v.user).sort()).toEqual(['bob', 'carol']);
  }, 180_000);

  it('the same approver on both replicas at once is counted once; the second approver completes it', async () => {
    const racing = await pool(Array.from({ length: 30 }), 10, (_, i) => create(i % 2 ? a : b));
    ids.push(...racing);
    await pool(racing, 10, async (id) => {
      const answers = await Promise.all([
        approve(a, 'bob', id),
        approve(b, 'bob', id),
        approve(a, 'carol', id),
        approve(b, 'carol', id),
      ]);
      expect(answers.filter((r) => r.status === 200)).toHaveLength(2);
      for (const r of answers.filter((x) => x.status !== 200)) {
        expect(['APPROVAL_NOT_ALLOWED', 'REQUEST_STATE']).toContain(r.body.code);
      }
      const stored = await store.get(id);
      expect([stored?.status, stored?.approvals.map((v) => v.user).sort()]).toEqual([
        'approved',
        ['bob', 'carol'],
      ]);
    });
  }, 120_000);

  it('an approval racing a denial: one wins, and a denied request never gets a certificate', async () => {
    const racing = await pool(Array.from({ length: 20 }), 10, () => create(a));
    ids.push(...racing);
    await pool(racing, 10, (id) => approve(b, 'bob', id));
    const outcomes = await pool(racing, 10, async (id) => {
      const [approval, denial] = await Promise.all([
        approve(a, 'carol', id),
        b.call('POST', `/v1/requests/${id}/deny`, tokens.erin ?? '', {}),
      ]);
      expect([approval.status, denial.status].filter((s) => s === 200)).toHaveLength(1);
      const cert = await Promise.all(
        [a, b].map((on) => on.call('POST', `/v1/requests/${id}/certificate`, tokens.alice ?? '')),
      );
      const stored = await store.get(id);
      if (stored?.status === 'denied') {
        expect(cert.map((c) => [c.status, c.body.code])).toEqual([
          [409, 'REQUEST_STATE'],
          [409, 'REQUEST_STATE'],
        ]);
        expect(stored.certificate).toBeUndefined();
      } else {
        expect(stored?.status).toBe('approved');
        expect(cert[0]?.body.certificate.serial).toBe(cert[1]?.body.certificate.serial);
      }
      return stored?.status;
    });
    expect(outcomes.every((s) => s === 'approved' || s === 'denied')).toBe(true);
  }, 120_000);

  it('a request past its pending expiry is expired once, and neither replica approves or certifies it', async () => {
    const expiring = await pool(Array.from({ length: 10 }), 10, () => create(b));
    ids.push(...expiring);
    // Time passes for these requests (the database is the clock they are judged by).
    const past = new Date(Date.now() - 1000).toISOString();
    const client = new pg.Client({ connectionString: storeConfig.postgres?.url });
    await client.connect();
    try {
      await client.query(
        `UPDATE requests SET pending_expires_at = $1,
           record = jsonb_set(record::jsonb, '{pendingExpiresAt}', to_jsonb($1::text))::text WHERE id = ANY($2)`,
        [past, expiring],
      );
    } finally {
      await client.end();
    }
    await pool(expiring, 5, async (id) => {
      const answers = await Promise.all([approve(a, 'bob', id), approve(b, 'carol', id)]);
      expect(answers.map((r) => [r.status, r.body.code])).toEqual([
        [409, 'REQUEST_EXPIRED'],
        [409, 'REQUEST_EXPIRED'],
      ]);
      const cert = await a.call('POST', `/v1/requests/${id}/certificate`, tokens.alice ?? '');
      expect([cert.status, cert.body.code]).toEqual([409, 'REQUEST_EXPIRED']);
      const stored = await store.get(id);
      expect([stored?.status, stored?.approvals, stored?.certificate]).toEqual(['expired', [], undefined]);
    });
  }, 120_000);

  it('a replica killed (SIGKILL) mid-approval loses nothing: the other one finishes, none approved twice', async () => {
    const victims = await pool(Array.from({ length: 40 }), 10, () => create(b));
    ids.push(...victims);
    await pool(victims, 10, (id) => approve(b, 'bob', id));
    let answered = 0;
    const onA = victims.map((id) =>
      approve(a, 'carol', id).then(
        (r) => {
          answered++;
          return r;
        },
        () => undefined,
      ),
    );
    await new Promise<void>((resolve) => {
      const wait = setInterval(() => {
        if (answered >= 3) {
          clearInterval(wait);
          resolve();
        }
      }, 1);
    });
    await a.stop('SIGKILL');
    const results = await Promise.all(onA);
    unansweredAtKill = results.filter((r) => r === undefined).length;
    expect(unansweredAtKill).toBeGreaterThan(0);
    // The client retries what got no answer on the surviving replica.
    for (const [i, r] of results.entries()) {
      if (r !== undefined) {
        expect(r.status).toBe(200);
        continue;
      }
      const retry = await approve(b, 'carol', victims[i] ?? '');
      expect([200, 409]).toContain(retry.status); // 409: the killed replica had committed it
    }
    for (const id of victims) {
      const stored = await store.get(id);
      expect([stored?.status, stored?.approvals.map((v) => v.user).sort()]).toEqual([
        'approved',
        ['bob', 'carol'],
      ]);
    }
  }, 120_000);

  it('every stored state change is in exactly one replica audit trail (counted)', async () => {
    await b.stop('SIGTERM'); // flushes its trail
    const all = await store.list();
    expect(all.map((r) => r.id).sort()).toEqual([...ids].sort()); // no request lost
    const committed = new Set<string>();
    for (const r of all) {
      committed.add(changeKey('request.created', r.id, r.requester.user));
      for (const v of r.approvals) committed.add(changeKey('request.approved', r.id, v.user));
      if (r.denial) committed.add(changeKey('request.denied', r.id, r.denial.user));
      if (r.status === 'expired') committed.add(changeKey('request.expired', r.id, 'system'));
      if (r.certificate) committed.add(changeKey('cert.issued', r.id, r.requester.user));
      if (r.revocation) committed.add(changeKey('cert.revoked', r.id, r.revocation.user));
      expect(new Set(r.approvals.map((v) => v.user.toLowerCase())).size).toBe(r.approvals.length);
      if (r.status === 'denied' || r.status === 'expired') expect(r.certificate).toBeUndefined();
    }
    const fromA = auditedChanges(a.auditPath);
    const fromB = auditedChanges(b.auditPath);
    // Appended before the commit: a replica killed in between leaves events whose change did not commit,
    // at most one per call it never answered, and only at the end of its trail.
    const inFlight = (c: { index: number }) => c.index >= fromA.length - unansweredAtKill;
    const count = new Map<string, number>();
    for (const c of [...fromA, ...fromB]) count.set(c.key, (count.get(c.key) ?? 0) + 1);
    const problems: string[] = [];
    for (const key of committed) {
      const n = count.get(key) ?? 0;
      const aInFlight = fromA.some((c) => c.key === key && inFlight(c));
      if (!(n === 1 || (n === 2 && aInFlight))) problems.push(`${key}: in ${n} trails`);
    }
    for (const c of fromA)
      if (!committed.has(c.key) && !inFlight(c)) problems.push(`${c.key}: not stored (a)`);
    for (const c of fromB) if (!committed.has(c.key)) problems.push(`${c.key}: not stored (b)`);
    expect(problems).toEqual([]);
    // 300 requests: created, two votes each for the approved ones, a certificate each but for denied and expired.
    expect(committed.size).toBeGreaterThan(300 * 3);
    expect(fromA.length + fromB.length).toBeGreaterThanOrEqual(committed.size);
  }, 60_000);
});
