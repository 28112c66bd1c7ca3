import { createCipheriv } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/*
 * Flow-control helpers for the executor integration tests: what the process
 * really holds in memory, patterned payloads, and a sender that honours
 * backpressure like the mediator does.
 */

/** Array-buffer bytes still referenced after a full garbage collection: what the process really holds. */
export function retainedBufferBytes(): number {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** `size` bytes that differ at every position of a 64 KiB block and from block to block, so loss or reordering changes a hash. */
export function patterned(size: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 2)).update(Buffer.alloc(size));
}

/**
 * Writes `total` bytes as input frames in 256 KiB chunks (slices of
 * `payload`, or zeros), honouring the call's backpressure like the
 * mediator does. Stops early once the call has accepted nothing for 3 s
 * (the far side stopped reading). Resolves with the bytes accepted.
 */
export async function sendUntilStalled(
  call: {
    write(frame: object): boolean;
    once(event: 'drain', listener: () => void): unknown;
    off(event: 'drain', listener: () => void): unknown;
  },
  frame: (chunk: Buffer) => object,
  total: number,
  payload?: Buffer,
): Promise<number> {
  const chunkSize = 256 * 1024;
  const zeros = Buffer.alloc(chunkSize);
  let sent = 0;
  while (sent < total) {
    const chunk = payload ? payload.subarray(sent, sent + chunkSize) : zeros.subarray(0, total - sent);
    sent += chunk.length;
    if (call.write(frame(chunk))) continue;
    let onDrain = () => {};
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        onDrain = () => resolve(true);
        call.once('drain', onDrain);
      }),
      sleep(3000).then(() => false),
    ]);
    if (!drained) {
      call.off('drain', onDrain);
      break;
    }
  }
  return sent;
}
