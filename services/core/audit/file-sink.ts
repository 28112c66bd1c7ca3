/**
 * The file-system seam of the file audit trail. `nodeAuditStorage` is the
 * real implementation (node:fs/promises); tests substitute fakes from
 * testing.ts to observe fsync ordering or inject failures.
 *
 * Why plain fs and not pino: the trail needs an explicit fsync per durable
 * record before the caller proceeds, exact control over the bytes of each
 * line (canonical JSON, hashed as written), a synchronous view of the
 * current file size for rotation, and write errors surfaced to the caller
 * rather than emitted on a stream. pino's destination (sonic-boom) gives none
 * of these more simply than `FileHandle.write` + `FileHandle.sync`.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory } from '../files/make-directory.js';

/** One open, append-only trail file. */
export interface FileSink {
  /** Bytes in the file, including everything written through this sink. */
  readonly size: number;
  /** False for a device such as /dev/full: never read back, and no head file beside it. Default true. */
  readonly regularFile?: boolean;
  /** Writes all of `data` at the end of the file. */
  write(data: Uint8Array): Promise<void>;
  /** Resolves once everything written is on stable storage (fsync). */
  sync(): Promise<void>;
  /** Closes the file; the sink is unusable afterwards. */
  close(): Promise<void>;
}

/** The file operations the trail needs. */
export interface AuditStorage {
  /** Opens (creating with mode 0600 if missing) `path` for appending. */
  openAppend(path: string): Promise<FileSink>;
  /** Size of a regular file, or undefined if `path` does not exist. */
  size(path: string): Promise<number | undefined>;
  /** Reads `length` bytes from `position`. */
  read(path: string, position: number, length: number): Promise<Uint8Array>;
  /** Renames `from` to `to`, refusing to replace an existing `to`, and makes the rename durable. */
  renameNew(from: string, to: string): Promise<void>;
  /** Names of the entries of directory `dir`. */
  list(dir: string): Promise<string[]>;
  /**
   * Replaces the whole content of the small file `path` atomically (a temporary
   * file renamed over it), so a reader sees the old or the new content, never
   * a mix; with `sync` the new content is on stable storage before the rename.
   */
  replace(path: string, data: Uint8Array, sync: boolean): Promise<void>;
}

class NodeFileSink implements FileSink {
  constructor(
    private readonly handle: FileHandle,
    public size: number,
    readonly regularFile: boolean,
  ) {}

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
      if (bytesWritten <= 0) throw new Error('short write');
      offset += bytesWritten;
      this.size += bytesWritten;
    }
  }

  async sync(): Promise<void> {
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(dirname(path), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The real file system. */
export const nodeAuditStorage: AuditStorage = {
  async openAppend(path) {
    // A fresh volume has no directory yet; only the tier itself needs it.
    await makeDirectory(dirname(path), 0o700);
    const handle = await open(path, 'a', 0o600);
    try {
      const info = await handle.stat();
      // A device such as /dev/full reports size 0 and is never read back.
      return new NodeFileSink(handle, info.isFile() ? info.size : 0, info.isFile());
    } catch (error) {
      await handle.close();
      throw error;
    }
  },
  async size(path) {
    try {
      const info = await stat(path);
      return info.isFile() ? info.size : 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  async read(path, position, length) {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  },
  async renameNew(from, to) {
    if ((await nodeAuditStorage.size(to)) !== undefined) throw new Error(`${to} already exists`);
    await rename(from, to);
    await syncDirectory(to);
  },
  async list(dir) {
    return readdir(dir);
  },
  async replace(path, data, sync) {
    await makeDirectory(dirname(path), 0o700);
    const temporary = `${path}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(data);
      if (sync) await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(temporary, path);
  },
};
