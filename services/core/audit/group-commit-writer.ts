/**
 * The group-commit writer behind `createFileAuditTrail`: one writer drains a
 * queue of sealed lines, file switches (rotation) and the close, in queue
 * (chain) order. All records queued while a write+fsync is in flight go out
 * together in the next write and share the next fsync, so N sessions deciding
 * at once cost one fsync, not N. A record settles only once its write (and,
 * if durable, the fsync that covers it) is done; the first failure is sticky:
 * it rejects its group and everything queued after it.
 */
import { AirlockError } from '../errors.js';
import type { AuditStorage, FileSink } from './file-sink.js';
import { auditHeadPath, headFileContent, type TrailAnchor } from './trail-reopen.js';

/** AUDIT_UNAVAILABLE for a trail file that failed; the file and the cause go to the detail. */
export function auditUnavailable(path: string, cause: unknown, what = 'cannot be written'): AirlockError {
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

/** Most bytes the writer puts in one write call; a group larger than this is split (still one fsync). */
const MAX_GROUP_BYTES = 1024 * 1024;

/** What the writer writes to. */
export interface GroupCommitOptions {
  /** The active trail file (renamed on a switch, named in errors, and the head file's base). */
  readonly path: string;
  readonly storage: AuditStorage;
  /** fsync groups holding a durable record, and the head file. */
  readonly fsync: boolean;
}

export class GroupCommitWriter {
  /** The first write, fsync or rotation failure, or the close; sticky. */
  lastError: AirlockError | undefined;
  private readonly queue: Entry[] = [];
  private writing = false;
  private readonly rotated: string[] = [];

  constructor(
    private readonly options: GroupCommitOptions,
    private sink: FileSink,
  ) {}

  /** The file names rotated away, oldest first. */
  rotatedFiles(): readonly string[] {
    return [...this.rotated];
  }

  /**
   * Queues one sealed line. Resolves once written and, when `durable`, synced;
   * a checkpoint's `anchor` is written to the head file only after that.
   */
  writeRecord(bytes: Buffer, durable: boolean, anchor: TrailAnchor | undefined): Promise<void> {
    const done = pending();
    this.queue.push({ kind: 'record', bytes, durable, done, ...(anchor ? { checkpoint: anchor } : {}) });
    this.kick();
    return done.promise;
  }

  /** Queues closing the active file, renaming it to `target` and opening a new one; resolves once it is open. */
  switchFile(target: string): Promise<void> {
    const done = pending();
    this.queue.push({ kind: 'rotate', target, done });
    this.kick();
    return done.promise;
  }

  /** Queues closing the file; everything queued before is written first. Never rejects. */
  close(): Promise<void> {
    const done = pending();
    this.queue.push({ kind: 'close', done });
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
        if (head.kind === 'rotate') await this.rotateFile(head.target, head.done);
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
      if (this.options.fsync && group.some((entry) => entry.durable)) await this.sink.sync();
      // Only once the checkpoint is on stable storage does the head file name
      // it, so after a crash the head file is never ahead of the trail.
      const anchor = group.findLast((entry) => entry.checkpoint !== undefined)?.checkpoint;
      if (anchor !== undefined && this.sink.regularFile !== false)
        await this.options.storage.replace(
          auditHeadPath(this.options.path),
          headFileContent(anchor),
          this.options.fsync,
        );
    } catch (cause) {
      this.lastError = auditUnavailable(this.options.path, cause);
      for (const entry of group) entry.done.reject(this.lastError);
      return;
    }
    for (const entry of group) entry.done.resolve();
  }

  private async rotateFile(target: string, done: Pending): Promise<void> {
    if (this.lastError) return done.reject(this.lastError);
    try {
      await this.sink.close();
      await this.options.storage.renameNew(this.options.path, target);
      this.sink = await this.options.storage.openAppend(this.options.path);
    } catch (cause) {
      this.lastError = auditUnavailable(this.options.path, cause, 'cannot be rotated');
      return done.reject(this.lastError);
    }
    this.rotated.push(target);
    done.resolve();
  }
}
