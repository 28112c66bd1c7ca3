/**
 * Stores for tests: which one a broker test environment uses
 * (`AIRLOCK_TEST_STORE=postgres` with `AIRLOCK_TEST_PG_URL`, set by the
 * `broker-postgres` vitest project; otherwise SQLite), and fresh databases
 * on a test server.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { StoreConfig } from './store-config.js';

/** A new, empty database `name` (random by default) on the server at `serverUrl`; its URL. */
export async function createTestDatabase(
  serverUrl: string,
  name = `airlock_${randomBytes(6).toString('hex')}`,
): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The store config of a test broker in `dir`. */
export async function testStoreConfig(dir: string): Promise<StoreConfig> {
  const server = process.env.AIRLOCK_TEST_PG_URL;
  if (process.env.AIRLOCK_TEST_STORE === 'postgres') {
    if (!server)
      throw new Error(
        'AIRLOCK_TEST_STORE=postgres needs AIRLOCK_TEST_PG_URL (test/setup/postgres-global-setup.ts)',
      );
    const url = await createTestDatabase(server);
    return { postgres: { url, tls: 'disable', poolSize: 5, connectTimeoutSeconds: 5 }, retentionDays: 90 };
  }
  return { sqlite: { path: join(dir, 'requests.db') }, retentionDays: 90 };
}
