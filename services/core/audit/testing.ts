/**
 * Test doubles for the file trail's storage seam: real code, no mocks.
 * `ObservedAuditStorage` wraps the real file system, records the order of
 * writes and fsyncs, and can hold an fsync open so a test can prove a durable
 * append does not resolve before its fsync completes. `FaultyAuditStorage`
 * makes writes or fsyncs fail the way a full disk or a closed descriptor does.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { type AuditStorage, type FileSink, nodeAuditStorage } from './file-sink.js';

/** A fresh Ed25519 key pair for signing checkpoints in tests. */
export function testAuditKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** What happened on the sinks, in order. */
export type StorageOp =
  | { op: 'write'; text: string }
  | { op: 'sync:start' }
  | { op: 'sync:end' }
  | { op: 'close' };

/** Storage that passes every call but openAppend to `inner`; the doubles below wrap the sinks it opens. */
abstract class WrappedAuditStorage implements AuditStorage {
  constructor(protected readonly inner: AuditStorage) {}

  abstract openAppend(path: string): Promise<FileSink>;

  size(path: string) {
    return this.inner.size(path);
  }
  read(path: string, position: number, length: number) {
    return this.inner.read(path, position, length);
  }
  renameNew(from: string, to: string) {
    return this.inner.renameNew(from, to);
  }
  list(dir: string) {
    return this.inner.list(dir);
  }
  replace(path: string, data: Uint8Array, sync: boolean) {
    return this.inner.replace(path, data, sync);
  }
}

export class ObservedAuditStorage extends WrappedAuditStorage {
  readonly ops: StorageOp[] = [];
  private held: Promise<void> | undefined;

  constructor(inner: AuditStorage = nodeAuditStorage) {
    super(inner);
  }

  /**
   * Makes every fsync started from now on wait until the returned function is
   * called. Holding again starts a new hold; each release frees its own.
   */
  holdSyncs(): () => void {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.held = held;
    return () => {
      release();
      if (this.held === held) this.held = undefined;
    };
  }

  async openAppend(path: string): Promise<FileSink> {
    const sink = await this.inner.openAppend(path);
    const self = this;
    return {
      get size() {
        return sink.size;
      },
      async write(data) {
        self.ops.push({ op: 'write', text: Buffer.from(data).toString('utf8') });
        await sink.write(data);
      },
      async sync() {
        self.ops.push({ op: 'sync:start' });
        if (self.held) await self.held;
        await sink.sync();
        self.ops.push({ op: 'sync:end' });
      },
      async close() {
        self.ops.push({ op: 'close' });
        await sink.close();
      },
    };
  }
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * Storage whose sinks fail after `writesBeforeFailure` successful writes
 * (ENOSPC), or on every fsync (`failSync`) or after `syncsBeforeFailure`
 * successful ones (EIO). Failing calls are not recorded in `ops`.
 */
export class FaultyAuditStorage extends ObservedAuditStorage {
  constructor(
    private readonly fault: { writesBeforeFailure?: number; failSync?: boolean; syncsBeforeFailure?: number },
  ) {
    super();
  }

  override async openAppend(path: string): Promise<FileSink> {
    const sink = await super.openAppend(path);
    let writes = 0;
    let syncs = 0;
    const fault = this.fault;
    return {
      get size() {
        return sink.size;
      },
      async write(data) {
        if (fault.writesBeforeFailure !== undefined && writes >= fault.writesBeforeFailure)
          throw errno('ENOSPC', 'no space left on device, write');
        writes++;
        await sink.write(data);
      },
      async sync() {
        if (fault.failSync || (fault.syncsBeforeFailure !== undefined && syncs >= fault.syncsBeforeFailure))
          throw errno('EIO', 'i/o error, fsync');
        syncs++;
        await sink.sync();
      },
      close: () => sink.close(),
    };
  }
}

/**
 * The real file system, with a way to end every sink still open the way a
 * process death does: the descriptors close, nothing more is written (no
 * close checkpoint). Tests that simulate a crash by abandoning a trail call
 * `crash()` afterwards, since Node (from 24) refuses to let the garbage
 * collector close a forgotten FileHandle.
 */
export class CrashableAuditStorage extends WrappedAuditStorage {
  private readonly open = new Set<FileSink>();

  constructor(inner: AuditStorage = nodeAuditStorage) {
    super(inner);
  }

  async openAppend(path: string): Promise<FileSink> {
    const sink = await this.inner.openAppend(path);
    const open = this.open;
    const tracked: FileSink = {
      get size() {
        return sink.size;
      },
      ...(sink.regularFile === undefined ? {} : { regularFile: sink.regularFile }),
      write: (data) => sink.write(data),
      sync: () => sink.sync(),
      close: async () => {
        open.delete(tracked);
        await sink.close();
      },
    };
    open.add(tracked);
    return tracked;
  }

  /** Closes every sink still open, writing nothing. */
  async crash(): Promise<void> {
    const sinks = [...this.open];
    this.open.clear();
    await Promise.all(sinks.map((sink) => sink.close().catch(() => undefined)));
  }
}
