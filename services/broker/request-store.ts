/**
 * Where the broker keeps access requests: the `RequestStore` port, an
 * in-memory implementation for tests and a JSON-file implementation that
 * survives restarts (whole-file rewrite: write a temporary file, fsync it,
 * rename it over the old one, fsync the directory; a crash leaves either the
 * old or the new file, never half of one).
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../core/errors.js';
import { makeDirectory } from '../core/make-directory.js';
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
}

/**
 * Port: durable storage of access requests.
 *
 * Lifecycle: the composition root opens the store and closes it at shutdown.
 * `put` resolves once the record is stored (for the file store: on disk).
 * The broker serialises its own writes; the store need not handle concurrent
 * read-modify-write of one record.
 */
export interface RequestStore {
  get(id: string): Promise<AccessRequest | undefined>;
  /** All requests, oldest first. */
  list(): Promise<AccessRequest[]>;
  /** Creates or replaces the record with `request.id`. */
  put(request: AccessRequest): Promise<void>;
  close(): Promise<void>;
}

/** In-memory RequestStore. Records are copied in and out, as the file store would. */
export class InMemoryRequestStore implements RequestStore {
  private readonly records = new Map<string, string>();

  async get(id: string): Promise<AccessRequest | undefined> {
    const found = this.records.get(id);
    return found === undefined ? undefined : (JSON.parse(found) as AccessRequest);
  }

  async list(): Promise<AccessRequest[]> {
    return [...this.records.values()].map((r) => JSON.parse(r) as AccessRequest);
  }

  async put(request: AccessRequest): Promise<void> {
    this.records.set(request.id, JSON.stringify(request));
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
 * Opens (or creates on first write) a JSON-file store. Reads the whole file
 * at open; a file that is not a store document, or has a newer schema,
 * refuses to open (`CONFIG_INVALID`) rather than be overwritten. An older
 * schema is migrated at open: the old file is kept as
 * `<path>.schema-v<N>.bak` and the migrated one written in its place.
 */
export async function createFileRequestStore(path: string): Promise<RequestStore> {
  const records = new Map<string, AccessRequest>();
  await makeDirectory(dirname(path), 0o700); // a fresh volume
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new AirlockError('CONFIG_INVALID', `request store ${path} is not valid JSON`, { cause });
    }
    const { doc, from } = migrateStoreDocument(parsed, path);
    if (from !== STORE_SCHEMA_VERSION) {
      // Keep the old file for a downgrade, then make the migration durable before serving.
      await writeFileAtomic(`${path}.schema-v${from}.bak`, text);
      await writeFileAtomic(path, `${JSON.stringify(doc, null, 1)}\n`);
    }
    for (const r of doc.requests) records.set(r.id, r);
  }
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  const copy = (r: AccessRequest): AccessRequest => JSON.parse(JSON.stringify(r)) as AccessRequest;
  return {
    async get(id) {
      const found = records.get(id);
      return found === undefined ? undefined : copy(found);
    },
    async list() {
      return [...records.values()].map(copy);
    },
    put(request) {
      if (closed) return Promise.reject(new AirlockError('INTERNAL', 'request store is closed'));
      records.set(request.id, copy(request));
      const snapshot: StoreFile = { schemaVersion: STORE_SCHEMA_VERSION, requests: [...records.values()] };
      // Writes are chained so an older snapshot never lands after a newer one.
      const next = writing.then(() => writeFileAtomic(path, `${JSON.stringify(snapshot, null, 1)}\n`));
      writing = next.catch(() => {});
      return next;
    },
    async close() {
      closed = true;
      await writing;
    },
  };
}
