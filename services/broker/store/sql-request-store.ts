/**
 * The `RequestStore` over SQL (SQLite or PostgreSQL, services/broker/store/sql.ts).
 *
 * A request is a row of `requests` (the record as JSON, without its
 * approvals, plus the columns queries and retention need) and one row of
 * `request_approvals` per distinct approver. `update` is one transaction:
 * the row is read under a lock (PostgreSQL `FOR UPDATE`; SQLite holds the
 * database's write lock from `BEGIN IMMEDIATE`), the change runs (it may
 * audit), and the row is written only if its `revision` is still the one
 * read (optimistic check on top of the lock). New approvals are inserted as
 * rows, so a second vote of one person is refused by the primary key, and
 * the count the policy sees is the database's.
 */
import { AirlockError } from '../../core/errors.js';
import {
  type AccessRequest,
  type RequestChange,
  type RequestFilter,
  type RequestStore,
  type RequestVote,
  requesterKey,
} from '../request-store.js';
import { approverKey } from './migrations.js';
import { isUniqueViolation, type SqlDriver, type SqlExecutor, type SqlRow, type SqlValue } from './sql.js';

const COLUMNS = 'id, revision, record';

function where(filter: RequestFilter): { sql: string; params: SqlValue[] } {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  if (filter.status !== undefined) {
    params.push(filter.status);
    clauses.push(`status = $${params.length}`);
  }
  if (filter.requester !== undefined) {
    params.push(requesterKey(filter.requester));
    clauses.push(`requester_key = $${params.length}`);
  }
  return { sql: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params };
}

/** Rows of `requests` with their approvals, in the order given. */
async function hydrate(db: SqlExecutor, rows: SqlRow[], approvalsSql: string, params: SqlValue[]) {
  const votes = new Map<string, RequestVote[]>();
  if (rows.length > 0) {
    for (const vote of await db.query(approvalsSql, params)) {
      const id = String(vote.request_id);
      const list = votes.get(id) ?? [];
      list.push(JSON.parse(String(vote.vote)) as RequestVote);
      votes.set(id, list);
    }
  }
  return rows.map(
    (row) =>
      ({
        ...(JSON.parse(String(row.record)) as Omit<AccessRequest, 'approvals'>),
        approvals: votes.get(String(row.id)) ?? [],
      }) as AccessRequest,
  );
}

async function read(db: SqlExecutor, id: string, lock: string) {
  const rows = await db.query(`SELECT ${COLUMNS} FROM requests WHERE id = $1${lock}`, [id]);
  const [request] = await hydrate(
    db,
    rows,
    'SELECT request_id, vote FROM request_approvals WHERE request_id = $1 ORDER BY position',
    [id],
  );
  return { request, revision: rows.length === 0 ? undefined : Number(rows[0]?.revision) };
}

function columns(request: AccessRequest): SqlValue[] {
  const { approvals: _approvals, ...record } = request;
  return [
    request.status,
    requesterKey(request.requester),
    request.createdAt,
    request.pendingExpiresAt ?? null,
    request.accessExpiresAt ?? null,
    JSON.stringify(record),
  ];
}

/** Writes `next` over the row read at `revision` (undefined: a new row) and inserts its new approvals. */
async function write(
  tx: SqlExecutor,
  current: AccessRequest | undefined,
  revision: number | undefined,
  next: AccessRequest,
): Promise<void> {
  const known = current?.approvals ?? [];
  if (next.approvals.length < known.length || known.some((v, i) => v.user !== next.approvals[i]?.user)) {
    throw new AirlockError('INTERNAL', `request ${next.id}: approvals are only ever added`);
  }
  if (revision === undefined) {
    await tx.run(
      `INSERT INTO requests (status, requester_key, created_at, pending_expires_at, access_expires_at, record, id, revision)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 1)`,
      [...columns(next), next.id],
    );
  } else {
    const changed = await tx.run(
      `UPDATE requests SET status = $1, requester_key = $2, created_at = $3, pending_expires_at = $4,
         access_expires_at = $5, record = $6, revision = revision + 1 WHERE id = $7 AND revision = $8`,
      [...columns(next), next.id, revision],
    );
    if (changed !== 1) {
      throw new AirlockError(
        'STORE_UNAVAILABLE',
        `request ${next.id} changed concurrently; nothing was stored`,
      );
    }
  }
  for (let position = known.length; position < next.approvals.length; position++) {
    const vote = next.approvals[position] as RequestVote;
    await tx.run(
      'INSERT INTO request_approvals (request_id, approver_key, position, vote) VALUES ($1, $2, $3, $4)',
      [next.id, approverKey(vote.user), position, JSON.stringify(vote)],
    );
  }
}

/** A RequestStore on an open, migrated database. */
export function createSqlRequestStore(driver: SqlDriver): RequestStore {
  const lock = driver.dialect === 'postgres' ? ' FOR UPDATE' : '';
  async function update(id: string, change: RequestChange): Promise<AccessRequest | undefined> {
    try {
      return await driver.transaction(async (tx) => {
        const { request: current, revision } = await read(tx, id, lock);
        const next = await change(current);
        if (next === undefined) return current;
        if (next.id !== id) throw new AirlockError('INTERNAL', `a change of ${id} returned ${next.id}`);
        await write(tx, current, revision, next);
        return (await read(tx, id, '')).request;
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AirlockError('APPROVAL_NOT_ALLOWED', `request ${id}: this person has already voted`, {
          cause: error,
        });
      }
      throw error;
    }
  }
  return {
    async get(id) {
      return (await read(driver, id, '')).request;
    },
    async list(filter = {}) {
      const { sql, params } = where(filter);
      const rows = await driver.query(
        `SELECT ${COLUMNS} FROM requests ${sql} ORDER BY created_at, id`,
        params,
      );
      return hydrate(
        driver,
        rows,
        `SELECT request_id, vote FROM request_approvals WHERE request_id IN (SELECT id FROM requests ${sql})
         ORDER BY request_id, position`,
        params,
      );
    },
    update,
    async put(request) {
      await update(request.id, async () => request);
    },
    async prune(before, now) {
      const doomed = `SELECT id FROM requests WHERE created_at < $1 AND status <> 'pending'
        AND (access_expires_at IS NULL OR access_expires_at < $2)`;
      const params = [before.toISOString(), now.toISOString()];
      return driver.transaction(async (tx) => {
        await tx.run(`DELETE FROM request_approvals WHERE request_id IN (${doomed})`, params);
        return tx.run(`DELETE FROM requests WHERE id IN (${doomed})`, params);
      });
    },
    exclusive: (name, work) => driver.tryExclusive(name, work),
    async healthy() {
      try {
        await driver.ping();
        return true;
      } catch {
        return false;
      }
    },
    close: () => driver.close(),
  };
}
