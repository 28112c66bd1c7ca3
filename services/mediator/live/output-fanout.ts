/**
 * The output of one live session, fanned out to the people watching it
 * (`ssh -t gw join SESSION_ID`). Watchers that keep up stay attached; a
 * watcher that falls behind may hold the owner briefly, never for long.
 *
 * Each watcher's queue is what its channel accepted and has not sent yet
 * (bytes written whose write callback has not run: for an SSH channel, what
 * does not fit in the watcher's window). Per watcher:
 *
 * - Past `highWaterBytes` queued, the watcher is *congested*: `publish`
 *   returns false and `whenReady` waits, so the owner's source (the executor
 *   stream, through `forwardChunk`) is paused until every congested watcher
 *   is back at or under `lowWaterBytes`. The owner's own channel keeps its
 *   own backpressure beside this.
 * - A watcher holds the owner out of a stall budget: at most `stallBudgetMs`
 *   at a stretch, refilled at `holdShare` of the time it does not hold (a
 *   token bucket). A watcher still congested when its budget runs out is
 *   dropped (`onDrop`: the joiner gets OBSERVER_DROPPED and may join again).
 *   So a stalled watcher costs the owner at most `stallBudgetMs`, once, and a
 *   slow one at most about `holdShare` of the owner's time in the long run.
 * - A chunk that would take a queue past `maxBufferedBytes` drops the watcher
 *   at once (writes that do not wait for `whenReady`, e.g. status lines):
 *   memory is at most `maxBufferedBytes` per watcher, whatever is published.
 *
 * A joiner first gets the last `replayBytes` of output (cut at a chunk
 * boundary, so at most that many), then everything published after.
 */

/** A watcher's channel, as the fan-out sees it (a Node `Writable` is one). */
export interface WatcherSink {
  /** `done` runs once the chunk has left the sink's buffer. */
  write(chunk: Buffer, done: () => void): boolean;
}

/** Options of {@link createOutputFanout}. */
export interface OutputFanoutOptions {
  /** How much recent output a joiner sees first. */
  readonly replayBytes: number;
  /** Queued bytes past which a watcher holds the owner. */
  readonly highWaterBytes: number;
  /** Queued bytes at or under which a congested watcher lets the owner go on. */
  readonly lowWaterBytes: number;
  /** Queued bytes a watcher may never exceed: past them it is dropped at once. */
  readonly maxBufferedBytes: number;
  /** The longest one watcher may hold the owner at a stretch (its full budget). */
  readonly stallBudgetMs: number;
  /** The budget refills at this share of the time the watcher does not hold the owner. */
  readonly holdShare: number;
  /** Milliseconds, monotonic; `performance.now` unless a test says otherwise. */
  readonly now?: () => number;
}

/** One attached watcher; `detach` is idempotent. */
export interface Watch {
  detach(): void;
}

export interface OutputFanout {
  /**
   * Queues `chunk` for every watcher and the replay; drops a watcher past
   * `maxBufferedBytes`. False while a watcher is congested: the caller should
   * pause its source until `whenReady`.
   */
  publish(chunk: Buffer | string): boolean;
  /** Calls `listener` once no watcher is congested: at once, or when the last one drains or is dropped. */
  whenReady(listener: () => void): void;
  /**
   * Attaches `sink`: the replay is written at once, then every published
   * chunk. `onDrop` is called (once) if the watcher is dropped; the fan-out
   * has already stopped writing to it then.
   */
  attach(sink: WatcherSink, onDrop: () => void): Watch;
  /** Watchers attached now. */
  size(): number;
  /** Bytes queued for a watcher now (0 once detached). */
  queued(sink: WatcherSink): number;
}

export const DEFAULT_FANOUT: OutputFanoutOptions = {
  replayBytes: 16 * 1024,
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 64 * 1024,
  maxBufferedBytes: 1024 * 1024,
  stallBudgetMs: 500,
  holdShare: 0.1,
};

interface Watcher {
  readonly sink: WatcherSink;
  readonly onDrop: () => void;
  queued: number;
  /** Milliseconds of hold left, as of `freeSince`. */
  budget: number;
  /** When it last stopped holding the owner (or attached). */
  freeSince: number;
  /** Set while congested: when it started holding, and the timer that drops it. */
  holding?: { since: number; timer: ReturnType<typeof setTimeout> };
  gone: boolean;
}

/** The fan-out of {@link createOutputFanout}: one live session's watchers, their queues and holds. */
class Fanout implements OutputFanout {
  readonly #options: OutputFanoutOptions;
  readonly #now: () => number;
  readonly #watchers = new Map<WatcherSink, Watcher>();
  readonly #replay: Buffer[] = [];
  #replayed = 0;
  #congested = 0;
  #ready: (() => void)[] = [];

  constructor(options: OutputFanoutOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  publish(input: Buffer | string): boolean {
    const chunk = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    if (chunk.length > 0) {
      this.#remember(chunk);
      for (const w of [...this.#watchers.values()]) this.#deliver(w, chunk);
    }
    return this.#congested === 0;
  }

  whenReady(listener: () => void): void {
    this.#ready.push(listener);
    this.#release();
  }

  attach(sink: WatcherSink, onDrop: () => void): Watch {
    const w: Watcher = {
      sink,
      onDrop,
      queued: 0,
      budget: this.#options.stallBudgetMs,
      freeSince: this.#now(),
      gone: false,
    };
    this.#watchers.set(sink, w);
    for (const chunk of this.#replay) this.#deliver(w, chunk);
    return {
      detach: () => {
        if (w.gone) return;
        w.gone = true;
        this.#watchers.delete(sink);
        this.#relieve(w);
        this.#release();
      },
    };
  }

  size(): number {
    return this.#watchers.size;
  }

  queued(sink: WatcherSink): number {
    return this.#watchers.get(sink)?.queued ?? 0;
  }

  #remember(chunk: Buffer): void {
    this.#replay.push(chunk);
    this.#replayed += chunk.length;
    while (this.#replayed > this.#options.replayBytes && this.#replay.length > 0)
      this.#replayed -= this.#replay.shift()!.length;
  }

  /** Lets the owner go on once no watcher holds it. */
  #release(): void {
    if (this.#congested > 0) return;
    const waiting = this.#ready;
    this.#ready = [];
    for (const listener of waiting) listener();
  }

  /** Stops holding: the time held is taken from the budget. */
  #relieve(w: Watcher): void {
    if (!w.holding) return;
    clearTimeout(w.holding.timer);
    const t = this.#now();
    w.budget = Math.max(0, w.budget - (t - w.holding.since));
    w.freeSince = t;
    w.holding = undefined;
    this.#congested--;
  }

  #drop(w: Watcher): void {
    if (w.gone) return;
    w.gone = true;
    this.#watchers.delete(w.sink);
    this.#relieve(w);
    w.onDrop();
    this.#release();
  }

  /** Starts holding the owner, with what the budget holds after its refill. */
  #congest(w: Watcher): void {
    const t = this.#now();
    const { stallBudgetMs, holdShare } = this.#options;
    w.budget = Math.min(stallBudgetMs, w.budget + (t - w.freeSince) * holdShare);
    w.holding = { since: t, timer: setTimeout(() => this.#drop(w), w.budget) };
    w.holding.timer.unref?.();
    this.#congested++;
  }

  #flushed(w: Watcher, bytes: number): void {
    w.queued -= bytes;
    if (w.gone || !w.holding || w.queued > this.#options.lowWaterBytes) return;
    this.#relieve(w);
    this.#release();
  }

  #deliver(w: Watcher, chunk: Buffer): void {
    if (w.queued + chunk.length > this.#options.maxBufferedBytes) {
      this.#drop(w);
      return;
    }
    w.queued += chunk.length;
    w.sink.write(chunk, () => this.#flushed(w, chunk.length));
    if (!w.gone && !w.holding && w.queued > this.#options.highWaterBytes) this.#congest(w);
  }
}

export function createOutputFanout(options: OutputFanoutOptions = DEFAULT_FANOUT): OutputFanout {
  return new Fanout(options);
}
