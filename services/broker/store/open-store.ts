/**
 * Opens the configured request store: connects (SQLite file or PostgreSQL
 * pool), runs the schema migrations, imports a JSON store of an earlier
 * broker once, and returns the `RequestStore`.
 *
 * The JSON import is one transaction that also records itself in
 * `airlock_store_meta`; after the commit the JSON file is renamed
 * `<file>.imported.bak` (kept as the backup). A crash between the two leaves
 * the file in place, and the next start, finding the import recorded, only
 * renames it, so nothing is imported twice.
 */
import { rename } from 'node:fs/promises';
import { type AccessRequest, type RequestStore, readJsonStoreFile } from '../request-store.js';
import { migrate } from './migrations.js';
import { openPostgresDriver } from './postgres.js';
import type { SqlDriver } from './sql.js';
import { createSqlRequestStore } from './sql-request-store.js';
import { openSqliteDriver } from './sqlite.js';
import { postgresSettings, type StoreConfig } from './store-config.js';

/** What opening did, for the operator log. */
export interface StoreOpened {
  readonly store: RequestStore;
  readonly description: string;
  readonly migratedFrom: number;
  readonly schemaVersion: number;
  /** Requests imported from `importJsonFile` now (0: none, or imported before). */
  readonly imported: number;
}

const IMPORT_KEY = 'json-import';

/** Opens the driver a config names. */
export async function openDriver(
  config: StoreConfig,
  log: (message: string, error: unknown) => void = () => {},
): Promise<SqlDriver> {
  if (config.postgres) return openPostgresDriver(await postgresSettings(config.postgres), log);
  return openSqliteDriver(config.sqlite?.path ?? '');
}

/** Imports `path` once (see the module comment); returns how many requests. */
export async function importJsonStore(driver: SqlDriver, path: string, now: Date): Promise<number> {
  const file = await readJsonStoreFile(path);
  if (file === undefined) return 0;
  const done = await driver.query('SELECT value FROM airlock_store_meta WHERE key = $1', [IMPORT_KEY]);
  let imported = 0;
  if (done.length === 0) {
    // One transaction for the lot; `store.put` would be one each, and a crash halfway would import half.
    imported = await driver.transaction(async (tx) => {
      const scoped = createSqlRequestStore({ ...driver, ...tx, transaction: (work) => work(tx) });
      for (const request of file.requests as AccessRequest[]) await scoped.put(request);
      await tx.run('INSERT INTO airlock_store_meta (key, value) VALUES ($1, $2)', [
        IMPORT_KEY,
        JSON.stringify({ from: path, schemaVersion: file.from, requests: file.requests.length, at: now }),
      ]);
      return file.requests.length;
    });
  }
  await rename(path, `${path}.imported.bak`);
  return imported;
}

/** Opens, migrates and (once) imports. */
export async function openRequestStore(
  config: StoreConfig,
  now: Date,
  log: (message: string, error: unknown) => void = () => {},
): Promise<StoreOpened> {
  const driver = await openDriver(config, log);
  try {
    const { from, to } = await migrate(driver, now);
    const store = createSqlRequestStore(driver);
    const imported =
      config.importJsonFile === undefined ? 0 : await importJsonStore(driver, config.importJsonFile, now);
    return { store, description: driver.description, migratedFrom: from, schemaVersion: to, imported };
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
}
