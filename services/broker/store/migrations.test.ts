/**
 * Schema migrations from every earlier version (an empty database, schema 1,
 * a JSON store of schema 1 or 2), on SQLite and PostgreSQL; a newer schema
 * refused; connection failures as STORE_UNAVAILABLE without the password.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessRequest } from '../request-store.js';
import { migrate, SQL_SCHEMA_VERSION } from './migrations.js';
import { openDriver, openRequestStore } from './open-store.js';
import { redactUrl } from './postgres.js';
import type { StoreConfig } from './store-config.js';
import { usePostgresServer, useTempDirs } from './store-test-support.js';
import { createTestDatabase } from './testing.js';

const serverUrl = usePostgresServer();
// Registered first, so it runs after the closing below (after-hooks run last-registered first).
const tempDir = useTempDirs('migrate');
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
});

const record = (id: string, approvals: string[] = []): AccessRequest => ({
  id,
  requester: { user: 'alice', groups: ['g'], kind: 'human' },
  scope: { profile: 'p', cluster: 'c', namespace: 'n', podPatterns: ['a-*'], ttlSeconds: 60, reason: 'r' },
  sshPublicKey: 'ssh-ed25519 AAAA',
  keyFingerprint: 'SHA256:x',
  status: approvals.length > 1 ? 'approved' : 'pending',
  decision: { decision: 'needs-approval', reasons: [] },
  createdAt: `2026-11-27T05:00:0${id.slice(-1)}.000Z`,
  approvals: approvals.map((user) => ({ user, at: '2026-11-27T05:01:00.000Z' })),
});

async function config(kind: 'sqlite' | 'postgres', importJsonFile?: string): Promise<StoreConfig> {
  const base = { retentionDays: 90, ...(importJsonFile ? { importJsonFile } : {}) };
  if (kind === 'sqlite') return { sqlite: { path: join(tempDir(), 'requests.db') }, ...base };
  const url = await createTestDatabase(serverUrl());
  return { postgres: { url, tls: 'disable', poolSize: 2, connectTimeoutSeconds: 5 }, ...base };
}

async function openStore(c: StoreConfig) {
  const opened = await openRequestStore(c, new Date());
  closers.push(() => opened.store.close());
  return opened;
}

describe.each(['sqlite', 'postgres'] as const)('request store migrations: %s', (kind) => {
  it('creates the newest schema in an empty database, and a second open changes nothing', async () => {
    const c = await config(kind);
    const first = await openStore(c);
    expect([first.migratedFrom, first.schemaVersion]).toEqual([0, SQL_SCHEMA_VERSION]);
    await first.store.close();
    const again = await openStore(c);
    expect([again.migratedFrom, again.schemaVersion]).toEqual([SQL_SCHEMA_VERSION, SQL_SCHEMA_VERSION]);
  });

  it('migrates schema 1 (approvals inside the record) to rows, keeping every request and vote', async () => {
    const c = await config(kind);
    const driver = await openDriver(c);
    await migrate(driver, new Date(), 1);
    for (const r of [record('req-1'), record('req-2', ['bob', 'carol'])]) {
      const { approvals: _ignored, ...rest } = r;
      await driver.run(
        `INSERT INTO requests (id, status, requester_key, created_at, pending_expires_at, access_expires_at, revision, record)
         VALUES ($1, $2, 'human:alice', $3, NULL, NULL, 1, $4)`,
        [r.id, r.status, r.createdAt, JSON.stringify({ ...rest, approvals: r.approvals })],
      );
    }
    await driver.close();
    const { store, migratedFrom } = await openStore(c);
    expect(migratedFrom).toBe(1);
    expect(await store.list()).toEqual([record('req-1'), record('req-2', ['bob', 'carol'])]);
    await expect(
      store.update('req-2', async (r) => ({
        ...(r as AccessRequest),
        approvals: [...(r?.approvals ?? []), { user: 'Bob', at: 'x' }],
      })),
    ).rejects.toMatchObject({ code: 'APPROVAL_NOT_ALLOWED' });
  });

  it('refuses a database with a newer schema and leaves it untouched', async () => {
    const c = await config(kind);
    const { store } = await openStore(c);
    await store.close();
    const driver = await openDriver(c);
    closers.push(() => driver.close());
    await driver.run("INSERT INTO airlock_schema_migrations (version, applied_at) VALUES ($1, 'later')", [
      SQL_SCHEMA_VERSION + 1,
    ]);
    await expect(openRequestStore(c, new Date())).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(`schema version ${SQL_SCHEMA_VERSION + 1}`),
    });
    expect((await driver.query('SELECT MAX(version) AS v FROM airlock_schema_migrations'))[0]?.v).toBe(
      SQL_SCHEMA_VERSION + 1,
    );
  });

  it.each([
    ['schema 1', { version: 1 }],
    ['schema 2', { schemaVersion: 2 }],
  ])('imports a JSON store of %s once, keeping the file as <file>.imported.bak', async (_name, envelope) => {
    const json = join(tempDir(), 'requests.json');
    const text = JSON.stringify({
      ...envelope,
      requests: [record('req-1'), record('req-2', ['bob', 'carol'])],
    });
    writeFileSync(json, text);
    const c = await config(kind, json);
    const first = await openStore(c);
    expect(first.imported).toBe(2);
    expect(existsSync(json)).toBe(false);
    expect(readFileSync(`${json}.imported.bak`, 'utf8')).toBe(text);
    expect(await first.store.list()).toEqual([record('req-1'), record('req-2', ['bob', 'carol'])]);
    await first.store.close();
    // A crash after the commit and before the rename: the file is back, and is not imported twice.
    writeFileSync(json, text);
    const again = await openStore(c);
    expect(again.imported).toBe(0);
    expect(existsSync(json)).toBe(false);
    expect(await again.store.list()).toHaveLength(2);
  });

  it('refuses a JSON file that is not a store, importing nothing', async () => {
    const json = join(tempDir(), 'requests.json');
    writeFileSync(json, '{"something":"else"}');
    await expect(openRequestStore(await config(kind, json), new Date())).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(readFileSync(json, 'utf8')).toBe('{"something":"else"}');
  });
});

describe('PostgreSQL connection failures', () => {
  it('a database that does not answer is STORE_UNAVAILABLE at start-up, and the password is never printed', async () => {
    const url = 'postgres://airlock:s3cret-pw@127.0.0.1:1/airlock';
    const error = await openRequestStore(
      { postgres: { url, tls: 'disable', poolSize: 1, connectTimeoutSeconds: 2 }, retentionDays: 90 },
      new Date(),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(
      JSON.stringify({ m: (error as Error).message, d: (error as { detail?: string }).detail }),
    ).not.toContain('s3cret-pw');
    expect((error as Error).message).toContain('postgres://airlock:***@127.0.0.1:1/airlock');
    expect(redactUrl('postgres://u:p%40ss@h/db?password=x')).toBe('postgres://u:***@h/db?password=***');
  });

  it('refuses TLS settings in the URL (they would override tls and its CA check)', async () => {
    await expect(
      openRequestStore(
        {
          postgres: {
            url: `${serverUrl()}?sslmode=disable`,
            tls: 'verify',
            poolSize: 1,
            connectTimeoutSeconds: 2,
          },
          retentionDays: 90,
        },
        new Date(),
      ),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('is not ready while its database refuses connections, answers STORE_UNAVAILABLE, and recovers', async () => {
    const c = await config('postgres');
    const name = new URL(c.postgres?.url ?? '').pathname.slice(1);
    const { store } = await openStore(c);
    await store.put(record('req-1'));
    const admin = new pg.Client({ connectionString: serverUrl() });
    await admin.connect();
    closers.push(() => admin.end());
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    expect(await store.healthy()).toBe(false);
    await expect(store.get('req-1')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS true`);
    expect(await store.healthy()).toBe(true);
    expect((await store.get('req-1'))?.id).toBe('req-1');
  });

  it('runs exclusive work on one broker at a time (advisory lock)', async () => {
    const c = await config('postgres');
    const a = (await openStore(c)).store;
    const b = (await openStore(c)).store;
    let inB: boolean | undefined;
    const ranA = await a.exclusive('expiry-sweep', async () => {
      inB = await b.exclusive('expiry-sweep', async () => {});
    });
    expect([ranA, inB]).toEqual([true, false]);
    expect(await b.exclusive('expiry-sweep', async () => {})).toBe(true);
  });
});
