/**
 * Where the broker keeps access requests: the `RequestStore` port and an
 * in-memory implementation for tests (the databases: services/broker/store/).
 * Also the JSON-file store of earlier brokers, read once to import it
 * (`readJsonStoreFile`, its schema migrations), and `writeFileAtomic`.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../core/errors.js';
import type { RequestDecision, RequestedScope } from '../core/policy/index.js';
import type { Identity } from './identity.js';

/** Life of an access request. */
export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'revoked';

/** One approval or denial by a person. */
export interface RequestVote {
  readonly user: string;
  /** RFC 3339. */
  readonly at: string;
  readonly comment?: string;
}

/** The certificate issued for a request (it is public; the key never was here). */
export interface IssuedCertificateRecord {
  /** Decimal uint64. */
  readonly serial: string;
  readonly keyId: string;
  readonly line: string;
  readonly validAfter: string;
  readonly validBefore: string;
  readonly issuedAt: string;
}

/** An access request as stored. Timestamps are RFC 3339 strings so the record is plain JSON. */
export interface AccessRequest {
  readonly id: string;
  readonly requester: Pick<Identity, 'user' | 'groups' | 'kind'>;
  readonly scope: RequestedScope;
  /** For a runbook request: `runbookStepsDigest` of the steps when it was made (what was approved). */
  readonly runbookStepsDigest?: string;
  /** The requester's public key, one OpenSSH line. */
  readonly sshPublicKey: string;
  readonly keyFingerprint: string;
  readonly status: RequestStatus;
  readonly decision: RequestDecision;
  readonly createdAt: string;
  /** Pending requests expire at this time. */
  readonly pendingExpiresAt?: string;
  readonly approvals: readonly RequestVote[];
  /** When the request became approved (the start of the certificate's validity). */
  readonly approvedAt?: string;
  /** approvedAt + TTL: no certificate is issued after it, and none is valid after it. */
  readonly accessExpiresAt?: string;
  readonly denial?: RequestVote;
  readonly certificate?: IssuedCertificateRecord;
  readonly revocation?: RequestVote;
  /** Ephemeral mode: the request's own mediator and executor pods (services/broker/launcher). */
  readonly launch?: LaunchState;
}

/**
 * What the launcher did for an approved request: `launched` (its pods and
 * objects were created) or `failed` (Kubernetes refused; `code` is
 * LAUNCH_FAILED and `reason` says why, as `airlock status` shows it).
 */
export interface LaunchState {
  readonly status: 'launched' | 'failed';
  /** RFC 3339. */
  readonly at: string;
  /** The per-request owner object (a ConfigMap in the launcher's namespace). */
  readonly owner: string;
  readonly code?: string;
  readonly reason?: string;
}

/** Which requests `list` returns (all conditions must hold). */
export interface RequestFilter {
  readonly status?: RequestStatus;
  /** The requester, compared as the broker compares users (kind, NFKC, lower case). */
  readonly requester?: Pick<Identity, 'user' | 'kind'>;
}

/**
 * One state change of one request: gets the record as stored (undefined: no
 * such request) and returns the new record, or undefined to change nothing.
 * It may audit before it returns; a throw stores nothing.
 */
export type RequestChange = (current: AccessRequest | undefined) => Promise<AccessRequest | undefined>;

/**
 * Port: durable storage of access requests (services/broker/store/: SQLite,
 * PostgreSQL; `InMemoryRequestStore` for tests).
 *
 * Lifecycle: the composition root opens the store and closes it at shutdown.
 * Every state change goes through `update`, one transaction: the record is
 * read under a lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite `BEGIN
 * IMMEDIATE`), so two brokers on one database never both change the same
 * request from the same state. Approvals are rows of their own, one per
 * distinct approver (a second vote by the same person is refused by the
 * database), and `approvals` is read back from them.
 */
export interface RequestStore {
  get(id: string): Promise<AccessRequest | undefined>;
  /** Matching requests, oldest first. */
  list(filter?: RequestFilter): Promise<AccessRequest[]>;
  /** Runs `change` as one transaction; resolves to the record now stored (undefined: none). */
  update(id: string, change: RequestChange): Promise<AccessRequest | undefined>;
  /** Creates or replaces the record with `request.id` (an `update` that ignores the current record). */
  put(request: AccessRequest): Promise<void>;
  /**
   * Deletes requests created before `before` that can no longer change
   * anything: not pending, and any access they granted ended before `now`.
   * Returns how many. The audit trail stays the permanent record.
   */
  prune(before: Date, now: Date): Promise<number>;
  /**
   * Runs `work` unless another broker sharing this store is running work of
   * the same `name` (PostgreSQL: an advisory lock); false when skipped.
   */
  exclusive(name: string, work: () => Promise<void>): Promise<boolean>;
  /** Readiness: the database answers. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

/** The key users are compared by (the broker's `sameUser`): kind, NFKC, lower case. */
export function requesterKey(who: Pick<Identity, 'user' | 'kind'>): string {
  return `${who.kind}:${who.user.normalize('NFKC').toLowerCase()}`;
}

/** True when a request may be pruned (see `RequestStore.prune`). */
export function isPrunable(request: AccessRequest, before: Date, now: Date): boolean {
  if (request.status === 'pending' || Date.parse(request.createdAt) >= before.getTime()) return false;
  return request.accessExpiresAt === undefined || Date.parse(request.accessExpiresAt) < now.getTime();
}

/** In-memory RequestStore. Records are copied in and out, as a database would. */
export class InMemoryRequestStore implements RequestStore {
  private readonly records = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  async get(id: string): Promise<AccessRequest | undefined> {
    const found = this.records.get(id);
    return found === undefined ? undefined : (JSON.parse(found) as AccessRequest);
  }

  async list(filter: RequestFilter = {}): Promise<AccessRequest[]> {
    const key = filter.requester === undefined ? undefined : requesterKey(filter.requester);
    return [...this.records.values()]
      .map((r) => JSON.parse(r) as AccessRequest)
      .filter((r) => filter.status === undefined || r.status === filter.status)
      .filter((r) => key === undefined || requesterKey(r.requester) === key)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  update(id: string, change: RequestChange): Promise<AccessRequest | undefined> {
    const run = this.queue.then(async () => {
      const current = await this.get(id);
      const next = await change(current);
      if (next === undefined) return current;
      if (next.id !== id) throw new AirlockError('INTERNAL', `a change of ${id} returned ${next.id}`);
      const voters = next.approvals.map((a) => requesterKey({ user: a.user, kind: 'human' }));
      if (new Set(voters).size !== voters.length) {
        throw new AirlockError('APPROVAL_NOT_ALLOWED', `request ${id}: one person approved twice`);
      }
      this.records.set(id, JSON.stringify(next));
      return this.get(id);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  async put(request: AccessRequest): Promise<void> {
    await this.update(request.id, async () => request);
  }

  async prune(before: Date, now: Date): Promise<number> {
    let count = 0;
    for (const request of await this.list()) {
      if (isPrunable(request, before, now) && this.records.delete(request.id)) count++;
    }
    return count;
  }

  async exclusive(_name: string, work: () => Promise<void>): Promise<boolean> {
    await work();
    return true;
  }

  async healthy(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}

/** The store document's schema version this broker reads and writes. */
export const STORE_SCHEMA_VERSION = 2;

/** The store file, schema version {@link STORE_SCHEMA_VERSION}. */
interface StoreFile {
  schemaVersion: typeof STORE_SCHEMA_VERSION;
  requests: AccessRequest[];
}

type StoreDocument = Record<string, unknown>;

/**
 * Schema migrations: `MIGRATIONS[n]` turns a version-n document into a
 * version-(n+1) one. Pure functions; a new schema adds a step here and bumps
 * STORE_SCHEMA_VERSION, never edits an old step.
 */
const MIGRATIONS: Readonly<Record<number, (doc: StoreDocument) => StoreDocument>> = {
  // v1 → v2: the envelope's `version` became `schemaVersion` (it versions the
  // document's schema, not its content); the records are unchanged.
  1: ({ version: _version, ...rest }) => ({ ...rest, schemaVersion: 2 }),
};

/** The schema version a document declares (v1 called it `version`). */
function schemaVersionOf(doc: StoreDocument): unknown {
  return doc.schemaVersion ?? doc.version;
}

/**
 * Brings a parsed store document to the current schema. Returns it and the
 * version it had. Throws CONFIG_INVALID for a document that is not a store,
 * or that a newer broker wrote (it is never downgraded or overwritten).
 */
export function migrateStoreDocument(value: unknown, path: string): { doc: StoreFile; from: number } {
  const notAStore = () =>
    new AirlockError('CONFIG_INVALID', `request store ${path} is not an airlock request store`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw notAStore();
  let doc = value as StoreDocument;
  const from = schemaVersionOf(doc);
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) throw notAStore();
  if (from > STORE_SCHEMA_VERSION) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `request store ${path} has schema version ${from}; this broker knows up to ${STORE_SCHEMA_VERSION} (was it written by a newer broker?)`,
    );
  }
  for (let version = from; version < STORE_SCHEMA_VERSION; version++) {
    const step = MIGRATIONS[version];
    if (!step) throw new AirlockError('INTERNAL', `no migration of the request store from schema ${version}`);
    doc = step(doc);
  }
  if (doc.schemaVersion !== STORE_SCHEMA_VERSION || !Array.isArray(doc.requests)) throw notAStore();
  return { doc: doc as unknown as StoreFile, from };
}

/**
 * Writes `content` to `path` atomically: a temporary file in the same
 * directory (mode `mode`), fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems do not support fsync on directories; the rename is still atomic.
  } finally {
    await dir.close();
  }
}

/**
 * Reads a JSON-file store (the broker's store before SQLite; schema v1 or
 * v2) for a one-time import: its records, the schema it had, and its text.
 * Undefined when there is no such file. A file that is not a store, or has a
 * newer schema, is CONFIG_INVALID (and is left untouched).
 */
export async function readJsonStoreFile(
  path: string,
): Promise<{ requests: AccessRequest[]; from: number; text: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new AirlockError('CONFIG_INVALID', `request store ${path} is not valid JSON`, { cause });
  }
  const { doc, from } = migrateStoreDocument(parsed, path);
  return { requests: doc.requests, from, text };
}
