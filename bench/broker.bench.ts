/**
 * Access broker benchmark: request-create latency and certificate issuance
 * rate against an in-process broker over its real HTTPS API
 * (`startBrokerTestEnv`: the SQLite request store and signed file audit trail
 * in a temp dir, OIDC ID tokens verified against the dev provider's JWKS,
 * the example policy). Every request is an auto-approved incident request,
 * so each create is one policy decision, one audited and fsynced state
 * change; each certificate is one signature, one audit event, one store
 * write.
 *
 * A plain node script, not a test: `npm run build && node dist/bench/broker.bench.js`
 * (also run by `npm run bench`; AIRLOCK_BENCH_QUICK=1 for a smoke run).
 * Prints one JSON object. Results are recorded, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokerTestEnv } from '../services/broker/testing.js';
import { round, type Summary, summarize } from './stats.js';

const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
const PLAN = QUICK
  ? { warmup: 5, creates: 20, certificates: 20, inFlight: 8 }
  : { warmup: 20, creates: 200, certificates: 100, inFlight: 8 };

/** What the benchmark reports. */
export interface BrokerBenchResult {
  plan: typeof PLAN;
  /** POST /v1/requests, one at a time, ms. */
  request_create_ms: Summary;
  /** POST /v1/requests/:id/certificate, one at a time. */
  certificate_sequential: { certs_per_s: number; latency_ms: Summary };
  /** The same with `inFlight` calls outstanding (the broker serialises state changes). */
  certificate_concurrent: { certs_per_s: number; in_flight: number };
  /** Headline: the concurrent rate. */
  broker_certs_per_s: number;
  request_create_p50_ms: number;
  /** Size of the SQLite request store file at the end (its WAL not counted). */
  store_bytes: number;
}

type BrokerEnv = Awaited<ReturnType<typeof startBrokerTestEnv>>;

/** Create an auto-approved request, and fetch a request's certificate, as `token`'s holder. */
function brokerCalls(env: BrokerEnv, token: string, sshPublicKey: string) {
  const create = async (): Promise<string> => {
    const response = await env.call('POST', '/v1/requests', token, {
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['payments-api-*'],
      reason: 'INC-4711 bench',
      ttlSeconds: 900,
      sshPublicKey,
    });
    if (response.status !== 201 || response.body.status !== 'approved') {
      throw new Error(`create answered ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body.id as string;
  };
  const certify = async (id: string): Promise<void> => {
    const response = await env.call('POST', `/v1/requests/${id}/certificate`, token);
    if (response.status !== 200) throw new Error(`certificate answered ${response.status}`);
  };
  return { create, certify };
}

/** `fn`'s value and how long it took, ms. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - start) / 1e6];
}

/** Runs the benchmark; `log` gets progress lines. */
export async function benchBroker(log: (line: string) => void = () => {}): Promise<BrokerBenchResult> {
  const env = await startBrokerTestEnv({ kubeCertificatesCluster: false });
  try {
    const keyPath = join(env.dir, 'id_bench');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', keyPath]);
    const sshPublicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();
    const token = await env.provider.mintIdToken('alice');
    const { create, certify } = brokerCalls(env, token, sshPublicKey);

    log(`warm-up: ${PLAN.warmup} requests and certificates`);
    for (let i = 0; i < PLAN.warmup; i++) await certify(await create());

    log(`request create latency: ${PLAN.creates} requests`);
    const createMs: number[] = [];
    const sequentialIds: string[] = [];
    for (let i = 0; i < PLAN.creates; i++) {
      const [id, ms] = await timed(create);
      createMs.push(ms);
      sequentialIds.push(id);
    }

    log(`certificates one at a time: ${PLAN.certificates}`);
    const certMs: number[] = [];
    const sequentialStart = process.hrtime.bigint();
    for (const id of sequentialIds.slice(0, PLAN.certificates))
      certMs.push((await timed(() => certify(id)))[1]);
    const sequentialSeconds = Number(process.hrtime.bigint() - sequentialStart) / 1e9;

    log(`certificates with ${PLAN.inFlight} in flight: ${PLAN.certificates}`);
    const concurrentIds: string[] = [];
    for (let i = 0; i < PLAN.certificates; i++) concurrentIds.push(await create());
    const queue = [...concurrentIds];
    const concurrentStart = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PLAN.inFlight }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) await certify(id);
      }),
    );
    const concurrentSeconds = Number(process.hrtime.bigint() - concurrentStart) / 1e9;

    const request_create_ms = summarize(createMs);
    const concurrentRate = round(PLAN.certificates / concurrentSeconds, 1);
    return {
      plan: PLAN,
      request_create_ms,
      certificate_sequential: {
        certs_per_s: round(PLAN.certificates / sequentialSeconds, 1),
        latency_ms: summarize(certMs),
      },
      certificate_concurrent: { certs_per_s: concurrentRate, in_flight: PLAN.inFlight },
      broker_certs_per_s: concurrentRate,
      request_create_p50_ms: request_create_ms.p50,
      store_bytes: readFileSync(env.config.store?.sqlite?.path ?? '').length,
    };
  } finally {
    await env.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchBroker((line) => process.stderr.write(`[broker bench] ${line}\n`));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
