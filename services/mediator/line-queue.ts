/**
 * The lines a readline interface reads, queued for whoever asks next: the
 * interactive prompt, or a `join` run from it, which reads the same lines
 * until it ends. A wait can be given up (an AbortSignal) without taking a
 * line, so the next line typed after a join ends goes to the prompt.
 */
import type { Interface } from 'node:readline';

/** Lines typed ahead beyond this are dropped (nobody types that far ahead; a flood must not grow memory). */
const MAX_QUEUED_LINES = 1024;

export interface LineQueue {
  /** The next line; undefined once the input has ended, or when `signal` aborts the wait. */
  next(signal?: AbortSignal): Promise<string | undefined>;
}

export function lineQueue(readline: Interface): LineQueue {
  const lines: string[] = [];
  const waiters: ((line: string | undefined) => void)[] = [];
  let closed = false;
  readline.on('line', (line: string) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else if (lines.length < MAX_QUEUED_LINES) lines.push(line);
  });
  readline.once('close', () => {
    closed = true;
    for (const waiter of waiters.splice(0)) waiter(undefined);
  });
  return {
    next(signal) {
      if (lines.length > 0) return Promise.resolve(lines.shift());
      if (closed || signal?.aborted) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const onAbort = () => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          resolve(undefined);
        };
        const waiter = (line: string | undefined) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(line);
        };
        waiters.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
