/**
 * The small SQL seam the request store is written against: one shape for
 * SQLite (`node:sqlite`) and PostgreSQL (`pg`). Statements use `$1, $2, …`
 * placeholders (SQLite gets them as `?1, ?2, …`) and portable SQL; what
 * differs between the two (row locks, advisory locks) is behind `dialect`.
 */

/** A bound parameter. */
export type SqlValue = string | number | null;

/** A result row: column name to value (TEXT as string, INTEGER as number). */
export type SqlRow = Record<string, unknown>;

/** Runs statements: in a transaction (`SqlDriver.transaction`) or on their own. */
export interface SqlExecutor {
  /** Rows of a query. */
  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs one statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs statements without parameters (schema changes). */
  exec(sql: string): Promise<void>;
}

/** A connection (SQLite) or pool (PostgreSQL). */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** What the store is, for logs and errors (a PostgreSQL URL without its password). */
  readonly description: string;
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back
   * when it throws. SQLite: `BEGIN IMMEDIATE` (the write lock, at once);
   * PostgreSQL: `BEGIN` on a connection of its own.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs `work` while holding the lock `name` across every process on this
   * database; resolves false without running it when another holds it.
   */
  tryExclusive(name: string, work: () => Promise<void>): Promise<boolean>;
  /** Readiness: throws when the database cannot be used now. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** True for a unique-constraint violation (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown; cause?: unknown } | undefined;
  if (e === undefined || e === null) return false;
  if (e.code === '23505' || e.errcode === 1555 || e.errcode === 2067) return true;
  return e.cause !== undefined && e.cause !== error && isUniqueViolation(e.cause);
}
