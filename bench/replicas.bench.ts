/**
 * Broker replica benchmark: certificates per second with one broker process
 * and with two, both on one PostgreSQL database (a throwaway local server
 * with fsync and synchronous commit on, over TCP on 127.0.0.1). Each of
 * `requests` requests is created (auto-approved by the example policy's
 * `incident` rule) and its certificate fetched, `inFlight` at a time, spread
 * round-robin over the replicas through their HTTPS API, as clients behind a
 * Service would be. The driver, the replicas and PostgreSQL share the
 * machine, so on 2 cores a second replica shows what the database and the
 * locking cost rather than a doubling.
 *
 * A plain node script, not a test: `npm run build && node dist/bench/replicas.bench.js`
 * (also run by `npm run bench` as part `replicas`; AIRLOCK_BENCH_QUICK=1
 * makes 60 requests). Prints one JSON object. Results are recorded, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BrokerReplica, startBrokerReplica } from '../services/broker/replica-process.js';
import { startPostgresTestServer } from '../services/broker/store/postgres-test-server.js';
import { createTestDatabase } from '../services/broker/store/testing.js';
import { startBrokerTestEnv } from '../services/broker/testing.js';
import { round, type Summary, summarize } from './stats.js';

const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
const PLAN = { requests: QUICK ? 60 : 300, inFlight: 16, warmup: 20 };

/** One replica count. */
export interface ReplicaBenchRow {
  replicas: number;
  certs_per_s: number;
  /** Create + certificate, per request. */
  request_ms: Summary;
  errors: number;
}

export interface ReplicaBenchResult {
  plan: typeof PLAN;
  rows: ReplicaBenchRow[];
  /** certs/s with two replicas over certs/s with one. */
  two_over_one: number | null;
}

/** Runs `work` for 0..count-1, at most `limit` at a time. */
async function pool(count: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
}

export async function benchReplicas(): Promise<ReplicaBenchResult> {
  const server = await startPostgresTestServer({ durable: true });
  const env = await startBrokerTestEnv({ kubeCertificatesCluster: false });
  await env.stopBroker(); // only the replicas serve
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(env.dir, 'id_bench')]);
  const userKey = readFileSync(join(env.dir, 'id_bench.pub'), 'utf8').trim();
  const token = await env.provider.mintIdToken('alice');
  const rows: ReplicaBenchRow[] = [];
  try {
    for (const count of [1, 2]) {
      const url = await createTestDatabase(server.url);
      const store = {
        postgres: { url, tls: 'disable' as const, poolSize: 5, connectTimeoutSeconds: 5 },
        retentionDays: 90,
      };
      const replicas: BrokerReplica[] = [];
      try {
        for (let r = 0; r < count; r++)
          replicas.push(await startBrokerReplica(env, `bench-${count}-${r}`, { store }));
        rows.push(await measure(replicas, token, userKey));
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
      }
    }
  } finally {
    await env.stop();
    await server.stop();
  }
  const [one, two] = rows;
  const twoOverOne = one && two && one.certs_per_s > 0 ? round(two.certs_per_s / one.certs_per_s, 3) : null;
  return { plan: PLAN, rows, two_over_one: twoOverOne };
}

/** Warms the replicas up (JIT, pools), then times `PLAN.requests` requests. */
async function measure(replicas: BrokerReplica[], token: string, userKey: string): Promise<ReplicaBenchRow> {
  await run(replicas, token, userKey, PLAN.warmup);
  return run(replicas, token, userKey, PLAN.requests);
}

async function run(
  replicas: BrokerReplica[],
  token: string,
  userKey: string,
  requests: number,
): Promise<ReplicaBenchRow> {
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  await pool(requests, PLAN.inFlight, async (i) => {
    const on = replicas[i % replicas.length]!;
    const t = process.hrtime.bigint();
    const created = await on.call('POST', '/v1/requests', token, {
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      reason: `INC-${1000 + i} replica bench`,
      ttlSeconds: 900,
      sshPublicKey: userKey,
    });
    const id = created.body.id as string | undefined;
    const cert =
      created.status === 201 && id !== undefined
        ? await on.call('POST', `/v1/requests/${id}/certificate`, token)
        : undefined;
    if (cert?.status !== 200) errors++;
    else latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    replicas: replicas.length,
    certs_per_s: round(latencies.length / seconds, 1),
    request_ms: summarize(latencies),
    errors,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await benchReplicas(), null, 2)}\n`);
}
