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
import { auditUnavailable, GroupCommitWriter } from './group-commit-writer.js';
import { auditHeadPath, headFileContent, reopenAuditTrail } from './trail-reopen.js';
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

/** Default of `checkpointIntervalMs`. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5000;

/**
 * `append` seals its record at once, in call order, so chain order is append
 * order, and hands it to the group-commit writer (group-commit-writer.ts),
 * which writes records in that order, sharing one fsync per group. Every
 * durable append resolves only after the fsync that covers its record; if
 * that write or fsync fails, every append of the group and everything queued
 * after it rejects with AUDIT_UNAVAILABLE and the trail stays unhealthy (fail
 * closed: nothing is reported durable that was not).
 */
class FileAuditTrailImpl implements FileAuditTrail {
  /** Head after the last sealed (queued) record: what the next append chains onto. */
  private chain: ChainHead;
  private sinceCheckpoint = 0;
  /** Bytes of the active file once everything queued for it is written (drives maxBytes). */
  private fileBytes: number;
  private readonly writer: GroupCommitWriter;
  private closing: Promise<void> | undefined;
  private readonly keyId: string;
  private readonly checkpointEvery: number;
  /** Pending time-triggered checkpoint, armed by the first record after a checkpoint. */
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** The last checkpoint known to be on stable storage (what other tiers witness). */
  private durableCheckpoint: AuditCheckpointRecord | undefined;
  /** Time of the last record sealed (ms): record times never go back behind it. */
  private lastTimeMs: number;

  constructor(
    private readonly options: FileAuditTrailOptions,
    storage: AuditStorage,
    sink: FileSink,
    head: ChainHead,
    lastTimeMs: number,
  ) {
    this.chain = head;
    this.lastTimeMs = lastTimeMs;
    this.fileBytes = sink.size;
    this.keyId = auditKeyId(options.signingKey);
    this.checkpointEvery = options.checkpointEvery ?? 100;
    this.writer = new GroupCommitWriter({ path: options.path, storage, fsync: options.fsync ?? true }, sink);
  }

  /** The writer's sticky failure (or the close), once there is one. */
  get lastError(): AirlockError | undefined {
    return this.writer.lastError;
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
    return this.writer.rotatedFiles();
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
    this.closing = this.writer.close().then(() => checkpointed);
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
    const { record } = sealed;
    const checkpoint = record.type === 'checkpoint' ? { seq: record.seq, hash: record.hash } : undefined;
    const written = this.writer.writeRecord(bytes, durable, checkpoint);
    this.chain = headAfter(sealed.record);
    this.fileBytes += bytes.length;
    return written;
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
    const switched = this.writer.switchFile(rotatedAuditPath(this.options.path, this.chain.nextSeq - 1));
    this.fileBytes = 0;
    return switched;
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
    throw auditUnavailable(options.path, cause, 'cannot be opened');
  }
  return new FileAuditTrailImpl(options, storage, sink, reopened.head, reopened.lastTimeMs);
}
