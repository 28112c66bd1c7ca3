/**
 * Session recordings: what a session's terminal showed (and, when
 * configured, what the user typed), written as asciicast v2
 * (services/core/audit/asciicast.ts) so `airlock audit play` and
 * `airlock audit timeline` can replay it.
 *
 * Lifecycle: the command runner creates one recorder per exec, calls
 * `recordOutput` / `recordInput` / `resize` as data flows, and `close()`s it
 * when the command ends, then logs the reference in its audit trail:
 *
 * ```ts
 * const { path, sha256 } = await recorder.close();
 * await trail.append({ event: 'exec.exited', ..., details: { exit_code, recording: path, recording_sha256: sha256 } });
 * ```
 *
 * The trail is hash-chained and signed; the recording is not, so the
 * `recording_sha256` in the trail is what makes a recording tamper-evident.
 *
 * Files are named `<sessionId>-<n>.cast` (n = 1, 2, … the first free
 * number), created exclusively with mode 0600 (recordings can contain
 * secrets that were printed) and only ever appended to. Input is recorded
 * only when `recordInput` is true: it includes passwords typed at prompts.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { formatAsciicastFrame, formatAsciicastHeader } from '../core/audit/asciicast.js';
import { AirlockError } from '../core/errors.js';

/** Options of `createSessionRecorder`. */
export interface SessionRecorderOptions {
  /** Directory to write recordings into; must exist. */
  readonly dir: string;
  /** The session id; `[A-Za-z0-9._-]`, used in the file name. */
  readonly sessionId: string;
  /** Terminal size at the start (columns, rows). */
  readonly width: number;
  readonly height: number;
  /** Record what the user types too. No default: the composition root decides. */
  readonly recordInput: boolean;
  /** Elapsed times and the header timestamp come from it. */
  readonly clock: () => Date;
  /** The `TERM` written to the header; default `xterm-256color`. */
  readonly term?: string;
}

/** What `close()` returns: the reference to log in the audit trail. */
export interface SessionRecordingResult {
  readonly path: string;
  /** Hex SHA-256 of the whole file. */
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * One recording. The record methods never throw and never block the
 * session: writes are queued in call order. A write failure makes
 * `healthy()` false, later records are dropped, and `close()` rejects with
 * `AUDIT_UNAVAILABLE` (the caller decides whether that ends the session).
 */
export interface SessionRecorder {
  readonly path: string;
  /** Terminal output sent to the user (bytes are decoded as UTF-8, split sequences kept whole). */
  recordOutput(chunk: Uint8Array | string): void;
  /** Keystrokes from the user; ignored unless `recordInput` was true. */
  recordInput(chunk: Uint8Array | string): void;
  /** The user's terminal was resized. */
  resize(width: number, height: number): void;
  /** A marker (asciicast `m` event), e.g. `lea joined` in a moderated session. */
  marker(label: string): void;
  /** Flushes, fsyncs and closes. Idempotent: later calls return the same result. */
  close(): Promise<SessionRecordingResult>;
  healthy(): boolean;
}

const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_FILES_PER_SESSION = 10_000;

function dimension(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0 || value > 10_000)
    throw new AirlockError('INTERNAL', `session recording ${name} must be a positive integer, not ${value}`);
  return value;
}

/** `AUDIT_UNAVAILABLE`: a recording that cannot be written fails the stream it records. */
function recordingError(message: string, path: string, error: unknown): AirlockError {
  return new AirlockError('AUDIT_UNAVAILABLE', message, {
    cause: error,
    detail: `${path}: ${(error as Error).message}`,
  });
}

/** The next free `<dir>/<sessionId>-<n>.cast`, created append-only. */
async function createRecordingFile(
  dir: string,
  sessionId: string,
): Promise<{ file: FileHandle; path: string }> {
  if (!SESSION_ID.test(sessionId) || sessionId.startsWith('.'))
    throw new AirlockError('INTERNAL', 'session id is not usable in a recording file name', {
      detail: `session id ${JSON.stringify(sessionId)}`,
    });
  for (let n = 1; n <= MAX_FILES_PER_SESSION; n++) {
    const path = join(dir, `${sessionId}-${n}.cast`);
    try {
      // 'ax': append-only, and fail if it exists, so a recording is never overwritten.
      return { file: await open(path, 'ax', 0o600), path };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw recordingError('cannot create the session recording', path, error);
    }
  }
  throw new AirlockError('AUDIT_UNAVAILABLE', 'too many recordings for one session');
}

/** Creates `<dir>/<sessionId>-<n>.cast` and writes the header. */
export async function createSessionRecorder(options: SessionRecorderOptions): Promise<SessionRecorder> {
  const width = dimension('width', options.width);
  const height = dimension('height', options.height);
  const { file, path } = await createRecordingFile(options.dir, options.sessionId);
  const start = options.clock().getTime();
  const hash = createHash('sha256');
  let bytes = 0;
  let failure: AirlockError | undefined;
  let closed: Promise<SessionRecordingResult> | undefined;
  let queue: Promise<void> = Promise.resolve();
  const outDecoder = new TextDecoder('utf-8');
  const inDecoder = new TextDecoder('utf-8');

  const write = (text: string): void => {
    if (failure !== undefined || closed !== undefined) return;
    const data = Buffer.from(text, 'utf8');
    queue = queue.then(async () => {
      if (failure !== undefined) return;
      try {
        await file.write(data);
        hash.update(data);
        bytes += data.length;
      } catch (error) {
        failure = recordingError('cannot write the session recording', path, error);
      }
    });
  };
  const elapsed = (): number => Math.max(0, (options.clock().getTime() - start) / 1000);
  const frame = (code: 'o' | 'i', decoder: TextDecoder, chunk: Uint8Array | string): void => {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text !== '') write(formatAsciicastFrame(elapsed(), code, text));
  };

  write(
    formatAsciicastHeader({
      version: 2,
      width,
      height,
      timestamp: Math.floor(start / 1000),
      env: { TERM: options.term ?? 'xterm-256color' },
    }),
  );

  return {
    path,
    recordOutput: (chunk) => frame('o', outDecoder, chunk),
    recordInput: (chunk) => {
      if (options.recordInput) frame('i', inDecoder, chunk);
    },
    resize: (w, h) => {
      if (Number.isSafeInteger(w) && Number.isSafeInteger(h) && w > 0 && h > 0)
        write(formatAsciicastFrame(elapsed(), 'r', `${w}x${h}`));
    },
    marker: (label) => write(formatAsciicastFrame(elapsed(), 'm', label)),
    healthy: () => failure === undefined,
    close: () => {
      if (closed === undefined) {
        // Flush any incomplete UTF-8 sequence as U+FFFD rather than lose it.
        const restOut = outDecoder.decode();
        const restIn = inDecoder.decode();
        if (restOut) write(formatAsciicastFrame(elapsed(), 'o', restOut));
        if (restIn && options.recordInput) write(formatAsciicastFrame(elapsed(), 'i', restIn));
        const flushed = queue;
        closed = (async () => {
          await flushed;
          try {
            if (failure === undefined) await file.sync();
          } catch (error) {
            failure = recordingError('cannot sync the session recording', path, error);
          } finally {
            await file.close().catch(() => undefined);
          }
          if (failure !== undefined) throw failure;
          return { path, sha256: hash.digest('hex'), bytes };
        })();
      }
      return closed;
    },
  };
}
