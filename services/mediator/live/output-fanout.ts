/**
 * The output of one live session, fanned out to the people watching it
 * (`ssh -t gw join SESSION_ID`), without ever slowing the session's owner.
 *
 * `publish` never waits and never fails: each watcher is an SSH channel
 * whose own buffer (`writableLength`: what ssh2 holds because the watcher's
 * window is closed) is bounded by `maxBufferedBytes`. A watcher whose buffer
 * would grow past the bound is dropped with a message (`OBSERVER_DROPPED`)
 * instead of holding the owner's stream; it may join again and gets the
 * replay. The owner's own channel keeps its normal backpressure: the fan-out
 * sits beside it, not in its path.
 *
 * A joiner first gets the last `replayBytes` of output (cut at a chunk
 * boundary, so at most that many), then everything published after.
 */

/** A watcher's channel, as the fan-out sees it. */
export interface WatcherSink {
  write(chunk: Buffer): boolean;
  /** Bytes accepted by `write` and not yet sent (Node's `Writable.writableLength`). */
  readonly writableLength: number;
}

/** Options of {@link createOutputFanout}. */
export interface OutputFanoutOptions {
  /** How much recent output a joiner sees first. */
  readonly replayBytes: number;
  /** How far one watcher may fall behind before it is dropped. */
  readonly maxBufferedBytes: number;
}

/** One attached watcher; `detach` is idempotent. */
export interface Watch {
  detach(): void;
}

export interface OutputFanout {
  /** Copies `chunk` to every watcher that has room and into the replay; drops the others. */
  publish(chunk: Buffer | string): void;
  /**
   * Attaches `sink`: the replay is written at once, then every published
   * chunk. `onDrop` is called (once) if the watcher falls behind and is
   * dropped; the fan-out has already stopped writing to it then.
   */
  attach(sink: WatcherSink, onDrop: () => void): Watch;
  /** Watchers attached now. */
  size(): number;
}

export const DEFAULT_FANOUT: OutputFanoutOptions = { replayBytes: 16 * 1024, maxBufferedBytes: 1024 * 1024 };

export function createOutputFanout(options: OutputFanoutOptions = DEFAULT_FANOUT): OutputFanout {
  const watchers = new Map<WatcherSink, () => void>();
  const replay: Buffer[] = [];
  let replayed = 0;

  const remember = (chunk: Buffer) => {
    replay.push(chunk);
    replayed += chunk.length;
    while (replayed > options.replayBytes && replay.length > 0) replayed -= replay.shift()!.length;
  };

  const deliver = (sink: WatcherSink, chunk: Buffer): boolean => {
    if (sink.writableLength + chunk.length > options.maxBufferedBytes) return false;
    sink.write(chunk);
    return true;
  };

  return {
    publish(input) {
      const chunk = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
      if (chunk.length === 0) return;
      remember(chunk);
      for (const [sink, onDrop] of [...watchers]) {
        if (deliver(sink, chunk)) continue;
        watchers.delete(sink);
        onDrop();
      }
    },
    attach(sink, onDrop) {
      for (const chunk of replay) sink.write(chunk);
      let dropped = false;
      watchers.set(sink, () => {
        dropped = true;
        onDrop();
      });
      return {
        detach: () => {
          if (!dropped) watchers.delete(sink);
        },
      };
    },
    size: () => watchers.size,
  };
}
