/**
 * The request store's schema, as forward-only migrations shared by SQLite
 * and PostgreSQL. `MIGRATIONS[i]` brings a database from version i to i+1;
 * a new schema appends a step and never edits an old one. They run at start,
 * in one transaction (on PostgreSQL under an advisory lock, so two brokers
 * starting together migrate once); the versions applied are rows of
 * `airlock_schema_migrations`. A database newer than this broker refuses to
 * open (CONFIG_INVALID) and is left untouched.
 */
import { AirlockError } from '../../core/errors.js';
import type { SqlDriver, SqlExecutor } from './sql.js';

/** One step: DDL, then (optionally) moving data into the new shape. */
export interface Migration {
  readonly description: string;
  readonly ddl: string;
  readonly data?: (tx: SqlExecutor) => Promise<void>;
}

/** PostgreSQL advisory lock class of airlock's store locks (an arbitrary constant). */
export const ADVISORY_LOCK_CLASS = 0x41524c;

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'requests: one row a request, the record as JSON, the columns queries need',
    ddl: `
      CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        requester_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        pending_expires_at TEXT,
        access_expires_at TEXT,
        revision INTEGER NOT NULL,
        record TEXT NOT NULL
      );
      CREATE INDEX requests_by_status ON requests (status, created_at);
      CREATE INDEX requests_by_requester ON requests (requester_key, created_at);
      CREATE TABLE airlock_store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    description: 'approvals become rows, one per distinct approver; created_at indexed for retention',
    ddl: `
      CREATE TABLE request_approvals (
        request_id TEXT NOT NULL REFERENCES requests (id),
        approver_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        vote TEXT NOT NULL,
        PRIMARY KEY (request_id, approver_key)
      );
      CREATE INDEX requests_by_created ON requests (created_at);`,
    async data(tx) {
      for (const row of await tx.query('SELECT id, record FROM requests')) {
        const { approvals = [], ...rest } = JSON.parse(String(row.record)) as {
          approvals?: { user: string }[];
        };
        for (const [position, vote] of approvals.entries()) {
          await tx.run(
            'INSERT INTO request_approvals (request_id, approver_key, position, vote) VALUES ($1, $2, $3, $4)',
            [String(row.id), approverKey(vote.user), position, JSON.stringify(vote)],
          );
        }
        await tx.run('UPDATE requests SET record = $1 WHERE id = $2', [JSON.stringify(rest), String(row.id)]);
      }
    },
  },
];

/** The schema version this broker reads and writes. */
export const SQL_SCHEMA_VERSION = MIGRATIONS.length;

/** Approvers are people: the broker's user comparison (NFKC, lower case). */
export function approverKey(user: string): string {
  return `human:${user.normalize('NFKC').toLowerCase()}`;
}

/** The version a database is at (0: empty). */
export async function schemaVersion(tx: SqlExecutor): Promise<number> {
  const rows = await tx.query('SELECT MAX(version) AS version FROM airlock_schema_migrations');
  return Number(rows[0]?.version ?? 0);
}

/**
 * Brings the database to `target` (default: the newest). Returns the
 * version it had. Throws CONFIG_INVALID for a newer one.
 */
export async function migrate(
  driver: SqlDriver,
  now: Date,
  target = SQL_SCHEMA_VERSION,
): Promise<{ from: number; to: number }> {
  return driver.transaction(async (tx) => {
    if (driver.dialect === 'postgres') {
      await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [ADVISORY_LOCK_CLASS]);
    }
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS airlock_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
    );
    const from = await schemaVersion(tx);
    if (from > SQL_SCHEMA_VERSION) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `request store ${driver.description} has schema version ${from}; this broker knows up to ${SQL_SCHEMA_VERSION} (was it written by a newer broker?)`,
      );
    }
    for (let version = from; version < target; version++) {
      const step = MIGRATIONS[version];
      if (!step)
        throw new AirlockError('INTERNAL', `no migration of the request store from schema ${version}`);
      await tx.exec(step.ddl);
      await step.data?.(tx);
      await tx.run('INSERT INTO airlock_schema_migrations (version, applied_at) VALUES ($1, $2)', [
        version + 1,
        now.toISOString(),
      ]);
    }
    return { from, to: Math.max(from, target) };
  });
}
