/**
 * Request store benchmark: request create and approve latency through the
 * broker's domain service (`createAccessBroker`: policy decision, audit
 * append to an in-memory trail, one store transaction) on SQLite and on
 * PostgreSQL (a throwaway local server with fsync and synchronous commit on,
 * services/broker/store/postgres-test-server.ts, over TCP on 127.0.0.1),
 * with 1 000 and 100 000 requests already stored. The store is the only part
 * that grows, so flat numbers mean per-record writes (the JSON file it
 * replaced rewrote everything on every change).
 *
 * A plain node script, not a test: `npm run build && node dist/bench/store.bench.js`
 * (also run by `npm run bench` as part `store`; AIRLOCK_BENCH_QUICK=1 stores
 * 1 000 and 5 000). Prints one JSON object. Results are recorded, never asserted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccessBroker } from '../services/broker/access-broker.js';
import { InMemoryDenyList } from '../services/broker/deny-list.js';
import type { Identity } from '../services/broker/identity.js';
import { requesterKey } from '../services/broker/request-store.js';
import { openDriver, openRequestStore } from '../services/broker/store/open-store.js';
import { startPostgresTestServer } from '../services/broker/store/postgres-test-server.js';
import type { StoreConfig } from '../services/broker/store/store-config.js';
import { createTestDatabase } from '../services/broker/store/testing.js';
import { InMemoryAuditTrail } from '../services/core/audit/index.js';
import { loadPolicy } from '../services/core/policy/index.js';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../services/core/ssh-cert/index.js';
import { round, type Summary, summarize } from './stats.js';

const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
const PLAN = QUICK ? { sizes: [1000, 5000], samples: 30 } : { sizes: [1000, 100_000], samples: 300 };

/** One store at one size. */
export interface StoreBenchRow {
  store: 'sqlite' | 'postgres';
  stored_requests: number;
  create_ms: Summary;
  approve_ms: Summary;
  fill_seconds: number;
}

export interface StoreBenchResult {
  plan: typeof PLAN;
  rows: StoreBenchRow[];
}

const person = (user: string, groups: string[]): Identity => ({ user, groups, kind: 'human', via: 'oidc' });
const alice = person('alice', ['payments-oncall']);
const bob = person('bob', ['payments-leads']);
const userKey = formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'bench');

/** Stores `count` finished requests of other people, in batches of multi-row inserts. */
async function fill(config: StoreConfig, count: number): Promise<void> {
  const driver = await openDriver(config);
  try {
    const batch = 1000;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const values: string[] = [];
      const params: (string | number)[] = [];
      for (let i = start; i < start + n; i++) {
        const id = `req-${i.toString(16).padStart(20, '0')}`;
        const createdAt = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
        const requester = { user: `user${i % 500}`, groups: ['payments-oncall'], kind: 'human' as const };
        const record = { id, requester, status: 'denied', createdAt, scope: { profile: 'oncall-debug' } };
        const p = params.length;
        values.push(`($${p + 1}, 'denied', $${p + 2}, $${p + 3}, NULL, NULL, 1, $${p + 4})`);
        params.push(id, requesterKey(requester), createdAt, JSON.stringify(record));
      }
      await driver.run(
        `INSERT INTO requests (id, status, requester_key, created_at, pending_expires_at, access_expires_at, revision, record)
         VALUES ${values.join(', ')}`,
        params,
      );
    }
  } finally {
    await driver.close();
  }
}

async function measure(
  kind: 'sqlite' | 'postgres',
  config: StoreConfig,
  size: number,
): Promise<StoreBenchRow> {
  await (await openRequestStore(config, new Date())).store.close(); // the schema
  const filled = process.hrtime.bigint();
  await fill(config, size);
  const fill_seconds = round(Number(process.hrtime.bigint() - filled) / 1e9, 1);
  const { store } = await openRequestStore(config, new Date());
  const broker = createAccessBroker({
    policy: loadPolicy(readFileSync(join(repoRoot(), 'docs/policy.example.json'), 'utf8')),
    store,
    audit: new InMemoryAuditTrail('broker'),
    denyList: new InMemoryDenyList(),
    caKey: generateCaKey('ed25519'),
    adminGroups: [],
    clock: () => new Date(),
  });
  const input = {
    profile: 'oncall-debug',
    cluster: 'prod-eu',
    namespace: 'payments',
    podPatterns: ['payments-api-*'],
    reason: 'checkout latency',
    ttlSeconds: 1200,
    sshPublicKey: userKey,
  };
  const create: number[] = [];
  const approve: number[] = [];
  try {
    for (let i = 0; i < PLAN.samples; i++) {
      let t = process.hrtime.bigint();
      const request = await broker.create(alice, input);
      create.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      await broker.approve(bob, request.id);
      approve.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    await store.close();
  }
  return {
    store: kind,
    stored_requests: size,
    create_ms: summarize(create),
    approve_ms: summarize(approve),
    fill_seconds,
  };
}

export async function benchStore(): Promise<StoreBenchResult> {
  const rows: StoreBenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'airlock-store-bench-'));
  const server = await startPostgresTestServer({ durable: true });
  try {
    for (const size of PLAN.sizes) {
      rows.push(
        await measure(
          'sqlite',
          { sqlite: { path: join(dir, `requests-${size}.db`) }, retentionDays: 90 },
          size,
        ),
      );
      const url = await createTestDatabase(server.url);
      rows.push(
        await measure(
          'postgres',
          { postgres: { url, tls: 'disable', poolSize: 4, connectTimeoutSeconds: 5 }, retentionDays: 90 },
          size,
        ),
      );
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { plan: PLAN, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await benchStore(), null, 2)}\n`);
}
