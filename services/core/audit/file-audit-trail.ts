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
 * when `path` is missing or empty, of the newest rotated file, after checking
 * it against the head file (trail-reopen.ts): a trail cut back behind its
 * last checkpoint is refused with AUDIT_TAIL_MISMATCH. A partial last line (a
 * crash mid-write) is left in place as evidence and terminated with a
 * newline; the verifier reports it as malformed.
 *
 * Checkpoints come every `checkpointEvery` events and, while anything is
 * unsigned, at least every `checkpointIntervalMs`, so a quiet tier's trail is
 * never unsigned for long. Record times never go back: if the clock steps
 * back, records keep the last time written until it catches up.
 */

import type { KeyObject } from 'node:crypto';
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
import { auditHeadPath, headFileContent, reopenAuditTrail, type TrailAnchor } from './trail-reopen.js';
import {
  type AppendOptions,
  AUDIT_EVENT_NAMES,
  AUDIT_TIERS,
  type AuditCheckpointRecord,
  type AuditEventInput,
  type AuditTier,
  type AuditTrail,
  type CheckpointReason,
  GENESIS_HASH,
} from './types.js';

export { auditHeadPath } from './trail-reopen.js';

/** Options of `createFileAuditTrail`. */
export interface FileAuditTrailOptions {
  /** The active trail file; created 0600 if missing, continued if present. */
  readonly path: string;
  readonly tier: AuditTier;
  /** Ed25519 private key that signs checkpoints. */
  readonly signingKey: KeyObject;
  /** Write a signed checkpoint after this many event records. Default 100. */
  readonly checkpointEvery?: number;
  /**
   * Write a signed checkpoint at most this many ms after the first record
   * not yet covered by one, so a quiet trail does not stay unsigned until
   * shutdown. Default 5000.
   */
  readonly checkpointIntervalMs?: number;
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

function unavailable(path: string, cause: unknown, what = 'cannot be written'): AirlockError {
  return new AirlockError('AUDIT_UNAVAILABLE', `audit trail ${what}`, {
    detail: `${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause,
  });
}

/** A settle-once promise whose outcome is decided by the writer. */
interface Pending {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function pending(): Pending {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A unit of work for the writer, in chain order. */
type Entry =
  | { kind: 'record'; bytes: Buffer; durable: boolean; done: Pending; checkpoint?: TrailAnchor }
  | { kind: 'rotate'; target: string; done: Pending }
  | { kind: 'close'; done: Pending };

/** Default of `checkpointIntervalMs`. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5000;

/** Most bytes the writer puts in one write call; a group larger than this is split (still one fsync). */
const MAX_GROUP_BYTES = 1024 * 1024;

/**
 * Group commit. `append` seals its record at once, in call order, so chain
 * order is append order, and queues it; one writer drains the queue. All
 * records queued while a write+fsync is in flight go out together in the
 * next write and share the next fsync, so N sessions deciding at once cost
 * one fsync, not N. Every durable append resolves only after the fsync that
 * covers its record; if that write or fsync fails, every append of the group
 * and everything queued after it rejects with AUDIT_UNAVAILABLE and the trail
 * stays unhealthy (fail closed: nothing is reported durable that was not).
 */
class FileAuditTrailImpl implements FileAuditTrail {
  lastError: AirlockError | undefined;
  /** Head after the last sealed (queued) record: what the next append chains onto. */
  private chain: ChainHead;
  private sinceCheckpoint = 0;
  /** Bytes of the active file once everything queued for it is written (drives maxBytes). */
  private fileBytes: number;
  private readonly queue: Entry[] = [];
  private writing = false;
  private closing: Promise<void> | undefined;
  private readonly rotated: string[] = [];
  private readonly keyId: string;
  private readonly checkpointEvery: number;
  private readonly fsync: boolean;
  /** Pending time-triggered checkpoint, armed by the first record after a checkpoint. */
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** The last checkpoint known to be on stable storage (what other tiers witness). */
  private durableCheckpoint: AuditCheckpointRecord | undefined;
  /** Time of the last record sealed (ms): record times never go back behind it. */
  private lastTimeMs: number;

  constructor(
    private readonly options: FileAuditTrailOptions,
    private readonly storage: AuditStorage,
    private sink: FileSink,
    head: ChainHead,
    lastTimeMs: number,
  ) {
    this.chain = head;
    this.lastTimeMs = lastTimeMs;
    this.fileBytes = sink.size;
    this.keyId = auditKeyId(options.signingKey);
    this.checkpointEvery = options.checkpointEvery ?? 100;
    this.fsync = options.fsync ?? true;
  }

  healthy(): boolean {
    return this.closing === undefined && this.lastError === undefined;
  }

  head(): ChainHead {
    return this.chain;
  }

  latestCheckpoint(): AuditCheckpointRecord | undefined {
    return this.durableCheckpoint;
  }

  rotatedFiles(): readonly string[] {
    return [...this.rotated];
  }

  append(event: AuditEventInput, options: AppendOptions = {}): Promise<void> {
    try {
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
      const written = this.enqueueRecord(sealed, options.durable ?? event.decision !== undefined);
      this.sinceCheckpoint++;
      this.armCheckpointTimer();
      // The checkpoint and a size rotation are queued right behind the event,
      // so they normally share its write and fsync; the append waits for its own record only.
      if (this.sinceCheckpoint >= this.checkpointEvery) this.enqueueCheckpoint('interval').catch(() => {});
      if (this.options.maxBytes !== undefined && this.fileBytes >= this.options.maxBytes)
        this.enqueueRotation().catch(() => {});
      return written;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  checkpoint(): Promise<void> {
    try {
      this.ensureWritable();
      return this.enqueueCheckpoint('manual');
    } catch (error) {
      return Promise.reject(error);
    }
  }

  rotate(): Promise<void> {
    try {
      this.ensureWritable();
      return this.enqueueRotation();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.disarmCheckpointTimer();
    // Only a healthy trail gets a closing checkpoint; a failed one just lets go of the file.
    const checkpointed = this.lastError === undefined ? this.enqueueCheckpoint('close') : Promise.resolve();
    checkpointed.catch(() => {});
    const done = pending();
    this.queue.push({ kind: 'close', done });
    this.kick();
    this.closing = done.promise.then(() => checkpointed);
    return this.closing;
  }

  private now(): string {
    this.lastTimeMs = Math.max(this.lastTimeMs, this.options.clock().getTime());
    return new Date(this.lastTimeMs).toISOString();
  }

  private armCheckpointTimer(): void {
    if (this.checkpointTimer !== undefined) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      if (this.sinceCheckpoint > 0 && this.healthy()) this.enqueueCheckpoint('interval').catch(() => {});
    }, this.options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
    // A quiet tier's timer must not keep its process alive.
    this.checkpointTimer.unref();
  }

  private disarmCheckpointTimer(): void {
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
  }

  private ensureWritable(): void {
    if (this.lastError) throw this.lastError;
    if (this.closing) throw new AirlockError('AUDIT_UNAVAILABLE', 'audit trail is closed');
  }

  private enqueueRecord(sealed: SealedRecord, durable: boolean): Promise<void> {
    const bytes = Buffer.from(`${sealed.line}\n`, 'utf8');
    const done = pending();
    const { record } = sealed;
    const checkpoint = record.type === 'checkpoint' ? { seq: record.seq, hash: record.hash } : undefined;
    this.queue.push({ kind: 'record', bytes, durable, done, ...(checkpoint ? { checkpoint } : {}) });
    this.chain = headAfter(sealed.record);
    this.fileBytes += bytes.length;
    this.kick();
    return done.promise;
  }

  private enqueueCheckpoint(reason: CheckpointReason): Promise<void> {
    const sealed = sealCheckpoint(this.chain, {
      time: this.now(),
      tier: this.options.tier,
      reason,
      signingKey: this.options.signingKey,
      keyId: this.keyId,
    });
    this.sinceCheckpoint = 0;
    this.disarmCheckpointTimer();
    // Witnessed only once durable: a head that a crash could still take back
    // would make the witness report a cut that never happened.
    return this.enqueueRecord(sealed, true).then(() => {
      if ((this.durableCheckpoint?.seq ?? -1) < sealed.record.seq) this.durableCheckpoint = sealed.record;
    });
  }

  /** Queues a `rotate` checkpoint, then the file switch; resolves once the new file is open. */
  private enqueueRotation(): Promise<void> {
    const checkpointed = this.enqueueCheckpoint('rotate');
    checkpointed.catch(() => {});
    const done = pending();
    this.queue.push({
      kind: 'rotate',
      target: rotatedAuditPath(this.options.path, this.chain.nextSeq - 1),
      done,
    });
    this.fileBytes = 0;
    this.kick();
    return done.promise;
  }

  /** Starts the writer unless it runs. */
  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'record') {
        // Let everything already runnable append first (the callers woken by
        // the previous group, several sessions deciding in the same turn), so
        // they join this group instead of waiting for the next fsync.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.writeGroup();
      } else {
        this.queue.shift();
        if (head.kind === 'rotate') await this.switchFile(head.target, head.done);
        else {
          await this.sink.close().catch(() => undefined);
          this.lastError ??= new AirlockError('AUDIT_UNAVAILABLE', 'audit trail is closed', {
            detail: this.options.path,
          });
          head.done.resolve();
        }
      }
    }
    this.writing = false;
  }

  /** Writes every record at the front of the queue, fsyncs once if any is durable, settles them all. */
  private async writeGroup(): Promise<void> {
    const group: Extract<Entry, { kind: 'record' }>[] = [];
    while (this.queue[0]?.kind === 'record') group.push(this.queue.shift() as (typeof group)[number]);
    if (this.lastError) {
      for (const entry of group) entry.done.reject(this.lastError);
      return;
    }
    try {
      for (let i = 0; i < group.length; ) {
        const chunk: Buffer[] = [];
        let bytes = 0;
        for (; i < group.length && (chunk.length === 0 || bytes < MAX_GROUP_BYTES); i++) {
          chunk.push(group[i]!.bytes);
          bytes += group[i]!.bytes.length;
        }
        await this.sink.write(chunk.length === 1 ? chunk[0]! : Buffer.concat(chunk, bytes));
      }
      if (this.fsync && group.some((entry) => entry.durable)) await this.sink.sync();
      // Only once the checkpoint is on stable storage does the head file name
      // it, so after a crash the head file is never ahead of the trail.
      const anchor = group.findLast((entry) => entry.checkpoint !== undefined)?.checkpoint;
      if (anchor !== undefined && this.sink.regularFile !== false)
        await this.storage.replace(auditHeadPath(this.options.path), headFileContent(anchor), this.fsync);
    } catch (cause) {
      this.lastError = unavailable(this.options.path, cause);
      for (const entry of group) entry.done.reject(this.lastError);
      return;
    }
    for (const entry of group) entry.done.resolve();
  }

  private async switchFile(target: string, done: Pending): Promise<void> {
    if (this.lastError) return done.reject(this.lastError);
    try {
      await this.sink.close();
      await this.storage.renameNew(this.options.path, target);
      this.sink = await this.storage.openAppend(this.options.path);
    } catch (cause) {
      this.lastError = unavailable(this.options.path, cause, 'cannot be rotated');
      return done.reject(this.lastError);
    }
    this.rotated.push(target);
    done.resolve();
  }
}

/**
 * Opens (or creates) a tier's audit trail file and continues its chain.
 * Rejects with AUDIT_UNAVAILABLE if the file cannot be opened or its chain
 * head cannot be read, AUDIT_TAIL_MISMATCH if the trail no longer holds the
 * last checkpoint its head file records (cut back, replaced or removed),
 * and CONFIG_INVALID for bad options.
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
  const interval = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  if (!Number.isSafeInteger(interval) || interval < 1)
    throw new AirlockError('CONFIG_INVALID', 'audit checkpointIntervalMs must be a positive integer');
  const storage = options.storage ?? nodeAuditStorage;
  let reopened: Awaited<ReturnType<typeof reopenAuditTrail>>;
  let sink: FileSink;
  try {
    reopened = await reopenAuditTrail(storage, options.path);
    if (reopened.unfinishedRotation && !reopened.partialTail)
      await storage.renameNew(options.path, rotatedAuditPath(options.path, reopened.unfinishedRotation.seq));
    sink = await storage.openAppend(options.path);
    try {
      if (reopened.partialTail) await sink.write(Buffer.from('\n', 'utf8'));
      if (reopened.fresh && sink.regularFile !== false)
        await storage.replace(
          auditHeadPath(options.path),
          headFileContent({ seq: -1, hash: GENESIS_HASH }),
          options.fsync ?? true,
        );
    } catch (error) {
      await sink.close().catch(() => undefined);
      throw error;
    }
  } catch (cause) {
    if (cause instanceof AirlockError) throw cause;
    throw unavailable(options.path, cause, 'cannot be opened');
  }
  return new FileAuditTrailImpl(options, storage, sink, reopened.head, reopened.lastTimeMs);
}
