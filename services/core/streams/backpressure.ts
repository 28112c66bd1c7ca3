/**
 * Backpressure between two streams, in one place. Node's `write()` returns
 * `false` once a stream's buffer is past its high-water mark and emits
 * `'drain'` when it has room again; a writer that ignores this makes the
 * process buffer a peer's whole output. Every hand-written forwarding loop in
 * the tiers (gRPC call ⇄ SSH channel ⇄ Kubernetes stream) uses these two
 * helpers instead of its own `once('drain')`.
 */

/** A readable side that can be held while its destination is full. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/** A destination whose `write()` reports a full buffer and which emits `'drain'` when it empties. */
export interface DrainableSink<T> {
  write(chunk: T): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes `chunk` into `into`; when `into` is full, pauses `from` until `into`
 * drains, so flow control (HTTP/2, TCP, SSH window) pushes back on the
 * producer. `from` may be absent (not connected yet): the chunk is written
 * and nothing is held. Returns `write()`'s answer.
 */
export function forwardChunk<T>(into: DrainableSink<T>, chunk: T, from: Pausable | undefined): boolean {
  if (into.write(chunk)) return true;
  from?.pause();
  into.once('drain', () => from?.resume());
  return false;
}

/**
 * Writes `chunk` into `into` and calls `next` once `into` can take more: at
 * once, or on its `'drain'`. The shape a `Writable`'s `write(chunk, enc,
 * done)` needs to honour its destination's backpressure.
 */
export function writeThen<T>(into: DrainableSink<T>, chunk: T, next: () => void): void {
  if (into.write(chunk)) next();
  else into.once('drain', () => next());
}
