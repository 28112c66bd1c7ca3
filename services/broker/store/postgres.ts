/**
 * The PostgreSQL driver (`pg`, a pool): for two or more broker replicas on
 * one database. TLS verifies the server against a CA by default (`caFile`,
 * or the system's roots); `tls: "disable"` is for a loopback or Unix socket
 * server only. Every connection-level failure is STORE_UNAVAILABLE, with the
 * URL's password replaced by `***` everywhere it could be printed.
 */
import pg from 'pg';
import { AirlockError } from '../../core/errors.js';
import { ADVISORY_LOCK_CLASS } from './migrations.js';
import { isUniqueViolation, type SqlDriver, type SqlExecutor, type SqlValue } from './sql.js';

/** How to reach the database (config `store.postgres`, URL from the config or a Secret file). */
export interface PostgresSettings {
  /** `postgres://user:password@host:port/db`; `host=/dir` for a Unix socket. */
  readonly url: string;
  /** PEM of the CA the server's certificate must chain to; absent: the system's roots. */
  readonly ca?: string;
  /** `verify` (default): TLS, certificate and host name checked. `disable`: no TLS. */
  readonly tls?: 'verify' | 'disable';
  /** Connections per broker (default 10). */
  readonly poolSize?: number;
  /** Give up connecting after this long (default 5 s): STORE_UNAVAILABLE. */
  readonly connectTimeoutMs?: number;
}

/** The URL with its password (and any `password=` parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/** Removes every secret of `url` from `text`. */
function redactIn(text: string, url: string): string {
  let out = text;
  try {
    const parsed = new URL(url);
    for (const secret of [decodeURIComponent(parsed.password), parsed.searchParams.get('password')]) {
      if (secret) out = out.split(secret).join('***');
    }
  } catch {}
  return out;
}

/** SSL settings in the URL would silently override `tls`: they are refused. */
function connectionString(url: string): string {
  const parsed = new URL(url);
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `store.postgres url must be postgres://…, not ${parsed.protocol}`,
    );
  }
  for (const key of parsed.searchParams.keys()) {
    if (key.startsWith('ssl')) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `store.postgres url: set TLS with store.postgres.tls and caFile, not the URL parameter ${key}`,
      );
    }
  }
  return url;
}

/** Turns a driver error into what callers see: STORE_UNAVAILABLE (secrets redacted); unique violations stay. */
type ErrorWrapper = (error: unknown) => unknown;

/** The error wrapper of one database (`description`: its redacted URL). */
function storeErrorWrapper(url: string, description: string): ErrorWrapper {
  return (error) => {
    if (error instanceof AirlockError || isUniqueViolation(error)) return error;
    const code = (error as { code?: unknown }).code;
    const message = redactIn(error instanceof Error ? error.message : String(error), url);
    return new AirlockError('STORE_UNAVAILABLE', `request store ${description}: ${message}`, {
      detail: typeof code === 'string' ? `code ${code}` : undefined,
    });
  };
}

/** The pool of `settings`: TLS verified unless `tls: "disable"`, 10 connections, 5 s to connect by default. */
function newPool(settings: PostgresSettings): pg.Pool {
  return new pg.Pool({
    connectionString: connectionString(settings.url),
    ssl:
      settings.tls === 'disable'
        ? false
        : { rejectUnauthorized: true, ...(settings.ca === undefined ? {} : { ca: settings.ca }) },
    max: settings.poolSize ?? 10,
    connectionTimeoutMillis: settings.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
  });
}

/** The SQL seam on a pool or one of its connections, every error wrapped. */
function executorOn(client: pg.PoolClient | pg.Pool, wrap: ErrorWrapper): SqlExecutor {
  return {
    async query(sql, params: readonly SqlValue[] = []) {
      try {
        return (await client.query(sql, [...params])).rows;
      } catch (error) {
        throw wrap(error);
      }
    },
    async run(sql, params: readonly SqlValue[] = []) {
      try {
        return (await client.query(sql, [...params])).rowCount ?? 0;
      } catch (error) {
        throw wrap(error);
      }
    },
    async exec(sql) {
      try {
        await client.query(sql);
      } catch (error) {
        throw wrap(error);
      }
    },
  };
}

/**
 * Runs `work` in BEGIN … COMMIT on a connection of its own; rolls back when
 * it throws. A connection whose ROLLBACK failed is destroyed, not reused.
 */
async function inTransaction<T>(
  client: pg.PoolClient,
  wrap: ErrorWrapper,
  work: (tx: SqlExecutor) => Promise<T>,
): Promise<T> {
  let broken: unknown;
  try {
    const tx = executorOn(client, wrap);
    await tx.exec('BEGIN');
    try {
      const result = await work(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e;
      });
      throw error;
    }
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Runs `work` under the advisory lock `name` when no other session holds it
 * (false: it did not run). A session lock on a connection of its own:
 * released by the unlock, or by the server the moment this broker's
 * connection dies.
 */
async function withAdvisoryLock(
  client: pg.PoolClient,
  wrap: ErrorWrapper,
  name: string,
  work: () => Promise<void>,
): Promise<boolean> {
  const tx = executorOn(client, wrap);
  let held = false;
  try {
    const rows = await tx.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS held', [
      ADVISORY_LOCK_CLASS,
      name,
    ]);
    held = rows[0]?.held === true;
    if (!held) return false;
    await work();
    return true;
  } finally {
    const unlocked = held
      ? await tx.query('SELECT pg_advisory_unlock($1, hashtext($2))', [ADVISORY_LOCK_CLASS, name]).then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        )
      : undefined;
    client.release(unlocked);
  }
}

/** Opens a pool; the first connection is made (and checked) at once. */
export async function openPostgresDriver(
  settings: PostgresSettings,
  log: (message: string, error: unknown) => void = () => {},
): Promise<SqlDriver> {
  const description = redactUrl(settings.url);
  const wrap = storeErrorWrapper(settings.url, description);
  const pool = newPool(settings);
  // An idle connection that breaks (server restart) is an event, not a crash.
  pool.on('error', (error) => log('request store connection failed', wrap(error)));
  async function connect(): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (error) {
      throw wrap(error);
    }
  }
  const driver: SqlDriver = {
    dialect: 'postgres',
    description,
    ...executorOn(pool, wrap),
    async transaction(work) {
      return inTransaction(await connect(), wrap, work);
    },
    async tryExclusive(name, work) {
      return withAdvisoryLock(await connect(), wrap, name, work);
    },
    async ping() {
      await driver.query('SELECT 1 AS ok');
    },
    async close() {
      await pool.end();
    },
  };
  await driver.query('SELECT 1 AS ok'); // a wrong URL, password or CA stops start-up here
  return driver;
}
