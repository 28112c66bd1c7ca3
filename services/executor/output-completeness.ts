/**
 * Whether an exec's "Success" can be trusted to mean "all output arrived".
 *
 * Kubernetes can drop the end of an exec's output and still report success
 * (docs/executor.md, "Known Kubernetes limitation"; kubernetes/kubernetes#124571):
 * when output backs up to the kubelet because the reader is slower than the
 * process, the kubelet closes its connection with the tail still unsent, and
 * the API server's SPDY ping (every 5 s from the upgrade) can then reset it,
 * discarding the tail and the real status. The status that reaches the
 * executor is "Success" either way, so the loss itself cannot be seen.
 *
 * What can be seen is whether the preconditions held. Output only backs up
 * to the kubelet when something after it is slower than the process; airlock
 * holds the Kubernetes stream back (pauses the WebSocket) exactly when its
 * reader is slower. So a success is unconfirmed when the stream had been
 * held back at or shortly before the status arrived (a backlog still queued
 * at the kubelet when the process exited drains within DRAIN_MS once the
 * stream flows) and the stream lived long enough for a ping (FIRST_PING_MS).
 * Output that was never held back, or a run shorter than the first ping, is
 * trusted. A non-zero exit status is always trusted: the kubelet writes it
 * after the last output byte, so its arrival means the tail arrived too.
 */
import type { Pausable } from '../core/streams/backpressure.js';

/**
 * The API server pings the kubelet 5 s after the upgrade and every 5 s after
 * (streamtranslator.go, `PingPeriod: 5 * time.Second`); 1 s of margin for
 * the time between its upgrade and ours.
 */
export const FIRST_PING_MS = 4000;
/**
 * How long after the stream last flowed again a backlog left at the kubelet
 * may still be draining: a few MiB of socket buffers, read at full speed.
 */
export const DRAIN_MS = 2000;

/**
 * Wraps the pause/resume of a Kubernetes stream and remembers when it was
 * held back. Several writers (stdout, stderr) may hold it; it flows again
 * when the last of them resumes.
 */
export class OutputHoldback implements Pausable {
  readonly #target: () => Pausable | undefined;
  readonly #now: () => number;
  #holders = 0;
  #lastHeldAt = Number.NEGATIVE_INFINITY;

  constructor(target: () => Pausable | undefined, now: () => number = () => performance.now()) {
    this.#target = target;
    this.#now = now;
  }

  pause(): void {
    this.#holders++;
    this.#lastHeldAt = this.#now();
    this.#target()?.pause();
  }

  resume(): void {
    if (this.#holders > 0) this.#holders--;
    this.#lastHeldAt = this.#now();
    if (this.#holders === 0) this.#target()?.resume();
  }

  /** True while held, or when it was held within the last `ms`. */
  heldWithin(ms: number): boolean {
    return this.#holders > 0 || this.#now() - this.#lastHeldAt <= ms;
  }
}

/**
 * Whether a finished exec's output cannot be confirmed complete: exit code
 * 0, the stream open for at least FIRST_PING_MS, and held back within
 * DRAIN_MS of the status.
 */
export function outputUnconfirmed(
  exitCode: number,
  openForMs: number,
  holdback: Pick<OutputHoldback, 'heldWithin'>,
): boolean {
  return exitCode === 0 && openForMs >= FIRST_PING_MS && holdback.heldWithin(DRAIN_MS);
}
