/**
 * `createFileAuditTrail`: a tier's append-only, hash-chained JSON-lines audit
 * file with periodic Ed25519-signed checkpoints.
 *
 * Files: the active file is `path`. `rotate()` (or `maxBytes`) ends it with a
 * signed `rotate` checkpoint, renames it to `path.<seq>` where `<seq>` is the
 * checkpoint's seq zero-padded to 12 digits (so a shell glob lists rotated
 * files in chain order), and starts a new `path` whose first record chains
 * onto that checkpoint. Verify a whole trail with
 * `airlock audit verify path.* path`.
 *
 * Reopening continues the chain from the last complete record of `path`, or,
 * when `path` is missing or empty, of the newest rotated file. A partial last
 * line (a crash mid-write) is left in place as evidence and terminated with a
 * newline; the verifier reports it as malformed.
 */

import type { KeyObject } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../errors.js';
import {
  auditKeyId,
  type ChainHead,
  headAfter,
  type SealedRecord,
  sealCheckpoint,
  sealEvent,
} from './chain.js';
import { type AuditStorage, type FileSink, nodeAuditStorage } from './file-sink.js';
import {
  type AppendOptions,
  AUDIT_EVENT_NAMES,
  AUDIT_TIERS,
  type AuditEventInput,
  type AuditRecord,
  type AuditTier,
  type AuditTrail,
  type CheckpointReason,
  GENESIS_HASH,
} from './types.js';

/** Options of `createFileAuditTrail`. */
export interface FileAuditTrailOptions {
  /** The active trail file; created 0600 if missing, continued if present. */
  readonly path: string;
  readonly tier: AuditTier;
  /** Ed25519 private key that signs checkpoints. */
  readonly signingKey: KeyObject;
  /** Write a signed checkpoint after this many event records. Default 100. */
  readonly checkpointEvery?: number;
  /** The trail's clock; record `time` comes from it. */
  readonly clock: () => Date;
  /** fsync durable appends and checkpoints. Default true; false only for tests and benchmarks. */
  readonly fsync?: boolean;
  /** Rotate once the active file reaches this many bytes. Default: never rotate by size. */
  readonly maxBytes?: number;
  /** The file-system seam; default the real file system. */
  readonly storage?: AuditStorage;
}

/** The file trail: the `AuditTrail` port plus rotation and introspection. */
export interface FileAuditTrail extends AuditTrail {
  /** Ends the active file with a signed checkpoint, renames it to `path.<seq>` and starts a new one. */
  rotate(): Promise<void>;
  /** The next seq to be written and the hash its `prev` will carry. */
  head(): ChainHead;
  /** The file names rotated away by this object, oldest first. */
  rotatedFiles(): readonly string[];
}

/** Rotated-file name for a file ending with the checkpoint at `seq`. */
export function rotatedAuditPath(path: string, seq: number): string {
  return `${path}.${String(seq).padStart(12, '0')}`;
}

const TAIL_WINDOW = 64 * 1024;
const decoder = new TextDecoder('utf-8', { fatal: false });

function lastRecordIn(text: string, fromFileStart: boolean): AuditRecord | undefined {
  const parts = text.split('\n');
  for (let i = parts.length - 1; i >= (fromFileStart ? 0 : 1); i--) {
    const part = parts[i];
    if (part === undefined || part === '' || (i === parts.length - 1 && !text.endsWith('\n'))) continue;
    try {
      const value = JSON.parse(part) as Partial<AuditRecord>;
      if (
        Number.isSafeInteger(value.seq) &&
        typeof value.hash === 'string' &&
        /^[0-9a-f]{64}$/.test(value.hash)
      )
        return value as AuditRecord;
    } catch {
      // not a record; keep looking further back
    }
  }
  return undefined;
}

/** Reads the chain head at the end of an existing file; undefined for an empty file. */
async function readHead(
  storage: AuditStorage,
  path: string,
): Promise<{ head: ChainHead; partialTail: boolean } | undefined> {
  const size = (await storage.size(path)) ?? 0;
  if (size === 0) return undefined;
  for (let window = Math.min(size, TAIL_WINDOW); ; window = Math.min(size, window * 4)) {
    const bytes = await storage.read(path, size - window, window);
    const text = decoder.decode(bytes);
    const record = lastRecordIn(text, window === size);
    if (record) return { head: headAfter(record), partialTail: !text.endsWith('\n') };
    if (window === size) throw new Error(`${path} holds no complete audit record to continue from`);
  }
}

async function newestRotated(storage: AuditStorage, path: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await storage.list(dirname(path));
  } catch {
    return undefined;
  }
  const prefix = `${basename(path)}.`;
  const rotated = names.filter((n) => n.startsWith(prefix) && /^\d{12}$/.test(n.slice(prefix.length))).sort();
  const newest = rotated.at(-1);
  return newest === undefined ? undefined : join(dirname(path), newest);
}

function unavailable(path: string, cause: unknown, what = 'cannot be written'): AirlockError {
  return new AirlockError('AUDIT_UNAVAILABLE', `audit trail ${what}`, {
    detail: `${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause,
  });
}

class FileAuditTrailImpl implements FileAuditTrail {
  lastError: AirlockError | undefined;
  private chain: ChainHead;
  private sinceCheckpoint = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly rotated: string[] = [];
  private readonly keyId: string;
  private readonly checkpointEvery: number;
  private readonly fsync: boolean;

  constructor(
    private readonly options: FileAuditTrailOptions,
    private readonly storage: AuditStorage,
    private sink: FileSink,
    head: ChainHead,
  ) {
    this.chain = head;
    this.keyId = auditKeyId(options.signingKey);
    this.checkpointEvery = options.checkpointEvery ?? 100;
    this.fsync = options.fsync ?? true;
  }

  healthy(): boolean {
    return !this.closed && this.lastError === undefined;
  }

  head(): ChainHead {
    return this.chain;
  }

  rotatedFiles(): readonly string[] {
    return [...this.rotated];
  }

  append(event: AuditEventInput, options: AppendOptions = {}): Promise<void> {
    return this.serially(async () => {
      this.ensureWritable();
      if (!(AUDIT_EVENT_NAMES as readonly string[]).includes(event.event))
        throw new AirlockError('INTERNAL', `unknown audit event ${String(event.event)}`);
      let sealed: SealedRecord;
      try {
        sealed = sealEvent(this.chain, { ...event, v: 1, time: this.now(), tier: this.options.tier });
      } catch (cause) {
        // A programming error in the caller, not an unavailable trail: the
        // append still rejects (the caller fails closed) but the trail stays usable.
        throw new AirlockError('INTERNAL', 'audit event is not serialisable', { cause });
      }
      await this.write(sealed, options.durable ?? event.decision !== undefined);
      this.sinceCheckpoint++;
      if (this.sinceCheckpoint >= this.checkpointEvery) await this.writeCheckpoint('interval');
      if (this.options.maxBytes !== undefined && this.sink.size >= this.options.maxBytes)
        await this.rotateNow();
    });
  }

  checkpoint(): Promise<void> {
    return this.serially(async () => {
      this.ensureWritable();
      await this.writeCheckpoint('manual');
    });
  }

  rotate(): Promise<void> {
    return this.serially(async () => {
      this.ensureWritable();
      await this.rotateNow();
    });
  }

  close(): Promise<void> {
    return this.serially(async () => {
      if (this.closed) return;
      const wasHealthy = this.healthy();
      this.closed = true;
      try {
        if (wasHealthy) await this.writeCheckpoint('close');
      } finally {
        await this.sink.close().catch(() => undefined);
        this.lastError ??= new AirlockError('AUDIT_UNAVAILABLE', 'audit trail is closed', {
          detail: this.options.path,
        });
      }
    });
  }

  private now(): string {
    return this.options.clock().toISOString();
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queue.then(op);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private ensureWritable(): void {
    if (this.lastError) throw this.lastError;
    if (this.closed) throw new AirlockError('AUDIT_UNAVAILABLE', 'audit trail is closed');
  }

  private async write(sealed: SealedRecord, durable: boolean): Promise<void> {
    try {
      await this.sink.write(Buffer.from(`${sealed.line}\n`, 'utf8'));
      if (durable && this.fsync) await this.sink.sync();
    } catch (cause) {
      this.lastError = unavailable(this.options.path, cause);
      throw this.lastError;
    }
    this.chain = headAfter(sealed.record);
  }

  private async writeCheckpoint(reason: CheckpointReason): Promise<void> {
    const sealed = sealCheckpoint(this.chain, {
      time: this.now(),
      tier: this.options.tier,
      reason,
      signingKey: this.options.signingKey,
      keyId: this.keyId,
    });
    await this.write(sealed, true);
    this.sinceCheckpoint = 0;
  }

  private async rotateNow(): Promise<void> {
    await this.writeCheckpoint('rotate');
    const target = rotatedAuditPath(this.options.path, this.chain.nextSeq - 1);
    try {
      await this.sink.close();
      await this.storage.renameNew(this.options.path, target);
      this.sink = await this.storage.openAppend(this.options.path);
    } catch (cause) {
      this.lastError = unavailable(this.options.path, cause, 'cannot be rotated');
      throw this.lastError;
    }
    this.rotated.push(target);
  }
}

/**
 * Opens (or creates) a tier's audit trail file and continues its chain.
 * Rejects with AUDIT_UNAVAILABLE if the file cannot be opened or its chain
 * head cannot be read, and CONFIG_INVALID for bad options.
 */
export async function createFileAuditTrail(options: FileAuditTrailOptions): Promise<FileAuditTrail> {
  if (!(AUDIT_TIERS as readonly string[]).includes(options.tier))
    throw new AirlockError('CONFIG_INVALID', `audit tier must be one of ${AUDIT_TIERS.join(', ')}`);
  if (options.signingKey.type !== 'private' || options.signingKey.asymmetricKeyType !== 'ed25519')
    throw new AirlockError('CONFIG_INVALID', 'audit signing key must be an Ed25519 private key');
  const every = options.checkpointEvery ?? 100;
  if (!Number.isSafeInteger(every) || every < 1)
    throw new AirlockError('CONFIG_INVALID', 'audit checkpointEvery must be a positive integer');
  if (options.maxBytes !== undefined && !(Number.isSafeInteger(options.maxBytes) && options.maxBytes > 0))
    throw new AirlockError('CONFIG_INVALID', 'audit maxBytes must be a positive integer');
  const storage = options.storage ?? nodeAuditStorage;
  let head: ChainHead = { nextSeq: 0, prev: GENESIS_HASH };
  let sink: FileSink;
  try {
    const existing = await readHead(storage, options.path);
    if (existing) head = existing.head;
    else {
      const rotated = await newestRotated(storage, options.path);
      const fromRotated = rotated === undefined ? undefined : await readHead(storage, rotated);
      if (fromRotated) head = fromRotated.head;
    }
    sink = await storage.openAppend(options.path);
    if (existing?.partialTail) {
      try {
        await sink.write(Buffer.from('\n', 'utf8'));
      } catch (error) {
        await sink.close().catch(() => undefined);
        throw error;
      }
    }
  } catch (cause) {
    throw unavailable(options.path, cause, 'cannot be opened');
  }
  return new FileAuditTrailImpl(options, storage, sink, head);
}
