/**
 * The SQLite driver (Node's built-in `node:sqlite`, no native addon): one
 * connection in WAL mode with `synchronous=FULL` (a commit is on disk when
 * it returns), `busy_timeout` for another process on the same file, and
 * `BEGIN IMMEDIATE` transactions. `node:sqlite` is synchronous, so work that
 * awaits inside a transaction (the audit append) would let other statements
 * of this process slip into it: every statement and transaction runs one at
 * a time through a queue. For one broker replica (`airlock dev up`, a
 * single-replica install); two or more need PostgreSQL.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { AirlockError } from '../../core/errors.js';
import { makeDirectory } from '../../core/files/make-directory.js';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './sql.js';

/** `$1` → `?1` (SQLite's numbered parameters). */
function toSqlite(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

function unavailable(path: string, cause: unknown): AirlockError {
  if (cause instanceof AirlockError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new AirlockError('STORE_UNAVAILABLE', `request store ${path}: ${message}`, { cause });
}

/** Opens the database file (created 0600 in a 0700 directory) in WAL mode, `synchronous=FULL`. */
async function openDatabase(path: string): Promise<DatabaseSync> {
  await makeDirectory(dirname(path), 0o700); // a fresh volume
  closeSync(openSync(path, 'a', 0o600)); // SQLite creates -wal and -shm with the database's mode
  try {
    const db = new DatabaseSync(path, { timeout: 5000 });
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
    return db;
  } catch (error) {
    throw unavailable(path, error);
  }
}

/** The SQL seam straight on the connection (no queue); errors are STORE_UNAVAILABLE except constraints. */
function directExecutor(db: DatabaseSync, path: string): SqlExecutor {
  return {
    async query(sql, params: readonly SqlValue[] = []) {
      try {
        return db.prepare(toSqlite(sql)).all(...(params as SQLInputValue[])) as SqlRow[];
      } catch (error) {
        throw unavailable(path, error);
      }
    },
    async run(sql, params: readonly SqlValue[] = []) {
      try {
        return Number(db.prepare(toSqlite(sql)).run(...(params as SQLInputValue[])).changes);
      } catch (error) {
        // A constraint (SQLITE_CONSTRAINT, 19, and its extended codes) is the caller's to map; the rest is the store's.
        if (((error as { errcode?: number }).errcode ?? 0) % 256 === 19) throw error;
        throw unavailable(path, error);
      }
    },
    async exec(sql) {
      db.exec(sql);
    },
  };
}

/** Runs `work` in BEGIN IMMEDIATE … COMMIT, rolled back when it throws (the caller queues it). */
async function inTransaction<T>(
  db: DatabaseSync,
  path: string,
  direct: SqlExecutor,
  work: (tx: SqlExecutor) => Promise<T>,
): Promise<T> {
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    throw unavailable(path, error);
  }
  try {
    const result = await work(direct);
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** Opens (creating it 0600, and its directory 0700) the SQLite database at `path`. */
export async function openSqliteDriver(path: string): Promise<SqlDriver> {
  const db = await openDatabase(path);
  const direct = directExecutor(db, path);
  let queue: Promise<unknown> = Promise.resolve();
  function serially<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  }
  let closed = false;
  function open(): void {
    if (closed) throw new AirlockError('STORE_UNAVAILABLE', `request store ${path} is closed`);
  }
  /** A statement on its own, in turn with transactions. */
  function alone<T>(work: () => Promise<T>): Promise<T> {
    return serially(async () => {
      open();
      return work();
    });
  }
  return {
    dialect: 'sqlite',
    description: path,
    query: (sql, params) => alone(() => direct.query(sql, params)),
    run: (sql, params) => alone(() => direct.run(sql, params)),
    exec: (sql) => alone(() => direct.exec(sql)),
    transaction: (work) => alone(() => inTransaction(db, path, direct, work)),
    // The file must still be where it was opened (a volume unmounted or removed is not ready).
    ping: () =>
      alone(async () => {
        statSync(path);
        db.prepare('SELECT 1').get();
      }),
    // One process per SQLite file: there is no one else to exclude.
    async tryExclusive(_name, work) {
      await work();
      return true;
    },
    close: () =>
      serially(async () => {
        if (closed) return;
        closed = true;
        db.close();
      }),
  };
}
