import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOutputFanout, type OutputFanout, type OutputFanoutOptions } from './output-fanout.js';

const KIB = 1024;
const OPTIONS: OutputFanoutOptions = {
  replayBytes: 0,
  highWaterBytes: 256 * KIB,
  lowWaterBytes: 64 * KIB,
  maxBufferedBytes: 1024 * KIB,
  stallBudgetMs: 500,
  holdShare: 0.1,
  now: () => Date.now(),
};

/** A watcher that reads everything at once (its write callback runs before `write` returns). */
function fastWatcher() {
  const received: Buffer[] = [];
  const sink = {
    write(chunk: Buffer, done: () => void) {
      received.push(chunk);
      done();
      return true;
    },
  };
  return { sink, text: () => Buffer.concat(received).toString() };
}

/** A watcher that never reads: its writes stay in its buffer, as a stalled SSH window does. */
function stalledWatcher() {
  return new Writable({ highWaterMark: 16, write() {} });
}

/**
 * A watcher reading `bytesPerMs` each millisecond (fake timers), except
 * for `pauseMs` of every `periodMs` (a scheduling delay of its client).
 */
function pacedWatcher(bytesPerMs: number, pauseMs = 0, periodMs = 100) {
  const queue: { left: number; done: () => void }[] = [];
  let read = 0;
  let ms = 0;
  const timer = setInterval(() => {
    ms++;
    if (ms % periodMs < pauseMs) return;
    let budget = bytesPerMs;
    while (budget > 0 && queue.length > 0) {
      const head = queue[0]!;
      const n = Math.min(budget, head.left);
      head.left -= n;
      budget -= n;
      read += n;
      if (head.left === 0) queue.shift()!.done();
    }
  }, 1);
  return {
    sink: {
      write(chunk: Buffer, done: () => void) {
        queue.push({ left: chunk.length, done });
        return true;
      },
    },
    read: () => read,
    stop: () => clearInterval(timer),
  };
}

/**
 * The owner: `chunkBytes` published every millisecond until `total` bytes
 * are out, paused (as `forwardChunk` pauses the executor stream) whenever
 * `publish` answers false, until `whenReady`. Records how long it was held
 * and the largest queue any watcher had.
 */
function owner(fanout: OutputFanout, total: number, chunkBytes: number, sinks: object[] = []) {
  const chunk = Buffer.alloc(chunkBytes, 'x');
  const result = { sent: 0, heldMs: 0, longestHoldMs: 0, maxQueued: 0, doneAt: -1 };
  const started = Date.now();
  let heldSince: number | undefined;
  const timer = setInterval(() => {
    if (heldSince !== undefined) return;
    if (result.sent >= total) {
      result.doneAt = Date.now() - started;
      clearInterval(timer);
      return;
    }
    result.sent += chunk.length;
    const free = fanout.publish(chunk);
    for (const s of sinks) result.maxQueued = Math.max(result.maxQueued, fanout.queued(s as never));
    if (free) return;
    const since = Date.now();
    heldSince = since;
    fanout.whenReady(() => {
      const held = Date.now() - since;
      result.heldMs += held;
      result.longestHoldMs = Math.max(result.longestHoldMs, held);
      heldSince = undefined;
    });
  }, 1);
  return result;
}

describe('createOutputFanout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives a joiner the recent output, then everything published after', () => {
    const fanout = createOutputFanout({ ...OPTIONS, replayBytes: 8 });
    fanout.publish('old-output\n');
    fanout.publish('recent\n');
    const watcher = fastWatcher();
    fanout.attach(watcher.sink, () => {});
    fanout.publish('live');
    // The replay is cut at a chunk boundary: at most replayBytes, never half a chunk.
    expect(watcher.text()).toBe('recent\nlive');
  });

  it('keeps five watchers that keep up, with jitter, for 64 MiB; the owner is held only briefly', () => {
    const fanout = createOutputFanout(OPTIONS);
    // The owner at 64 KiB/ms (64 MiB/s); the watchers read 96 KiB/ms but each stops 5 ms of every 100.
    const watchers = [0, 1, 2, 3, 4].map((i) => pacedWatcher(96 * KIB, 5, 100 + i * 7));
    const drops: number[] = [];
    watchers.forEach((w, i) => {
      fanout.attach(w.sink, () => drops.push(i));
    });
    const run = owner(fanout, 64 * 1024 * KIB, 64 * KIB);
    vi.advanceTimersByTime(5000);
    for (const w of watchers) w.stop();
    expect(drops).toEqual([]);
    expect(run.sent).toBe(64 * 1024 * KIB);
    for (const w of watchers) expect(w.read()).toBe(64 * 1024 * KIB);
    // Unheld, 1024 chunks take 1024 ms (+1 to notice the end).
    expect(run.doneAt).toBeLessThanOrEqual(1025 + run.heldMs);
    // A watcher that stops for 5 ms holds the owner for less than that, once it is past the high-water mark.
    expect(run.longestHoldMs).toBeLessThanOrEqual(5);
    expect(run.heldMs).toBeGreaterThan(0);
  });

  it('drops a stalled watcher after the stall budget: the owner is held that long once, others stay', () => {
    const fanout = createOutputFanout(OPTIONS);
    const fast = pacedWatcher(128 * KIB);
    const stalled = stalledWatcher();
    const drops: string[] = [];
    fanout.attach(fast.sink, () => drops.push('fast'));
    fanout.attach(stalled, () => drops.push('stalled'));
    const run = owner(fanout, 8 * 1024 * KIB, 64 * KIB, [stalled]);
    vi.advanceTimersByTime(3000);
    fast.stop();
    expect(drops).toEqual(['stalled']);
    expect(run.sent).toBe(8 * 1024 * KIB);
    expect(run.longestHoldMs).toBe(OPTIONS.stallBudgetMs);
    expect(run.heldMs).toBe(OPTIONS.stallBudgetMs);
    // Memory: at most highWater plus one chunk was queued for it, never past maxBufferedBytes.
    expect(stalled.writableLength).toBeLessThanOrEqual(OPTIONS.highWaterBytes + 64 * KIB);
    expect(fast.read()).toBe(8 * 1024 * KIB);
  });

  it('drops a watcher too slow to keep up once its budget is spent: the owner loses about holdShare', () => {
    const fanout = createOutputFanout(OPTIONS);
    const slow = pacedWatcher(32 * KIB);
    const drops: string[] = [];
    fanout.attach(slow.sink, () => drops.push('slow'));
    const run = owner(fanout, 256 * 1024 * KIB, 64 * KIB);
    // Its budget lasts at least stallBudgetMs of holding.
    vi.advanceTimersByTime(OPTIONS.stallBudgetMs);
    expect(drops).toEqual([]);
    vi.advanceTimersByTime(9500);
    slow.stop();
    expect(drops).toEqual(['slow']);
    // Held at half speed until the budget ran out: 500 ms, plus 10 % of the unheld time before that.
    const unheld = run.doneAt - run.heldMs;
    expect(run.heldMs).toBeLessThanOrEqual(OPTIONS.stallBudgetMs + unheld * OPTIONS.holdShare + 2);
    expect(run.sent).toBe(256 * 1024 * KIB);
  });

  it('never queues more than maxBufferedBytes for a watcher, however much is published', () => {
    const fanout = createOutputFanout({ ...OPTIONS, maxBufferedBytes: 1000, highWaterBytes: 500 });
    const fast = fastWatcher();
    const stalled = stalledWatcher();
    const drops: string[] = [];
    fanout.attach(fast.sink, () => drops.push('fast'));
    fanout.attach(stalled, () => drops.push('stalled'));
    const chunk = Buffer.alloc(100, 'x');
    for (let i = 0; i < 10; i++) fanout.publish(chunk);
    expect(drops).toEqual([]);
    expect(stalled.writableLength).toBe(1000);
    // A caller that ignores the hold: the watcher is dropped rather than queued past the bound.
    expect(fanout.publish(chunk)).toBe(true);
    expect(drops).toEqual(['stalled']);
    expect(fanout.size()).toBe(1);
    for (let i = 0; i < 100; i++) fanout.publish(chunk);
    expect(stalled.writableLength).toBe(1000);
    expect(fast.text()).toHaveLength(111 * 100);
  });

  it('lets the owner go on when a holding watcher detaches; whenReady is immediate when none holds', () => {
    const fanout = createOutputFanout({ ...OPTIONS, highWaterBytes: 150 });
    const watcher = fastWatcher();
    const stalled = stalledWatcher();
    const watch = fanout.attach(stalled, () => {});
    fanout.attach(watcher.sink, () => {});
    expect(fanout.publish(Buffer.alloc(100))).toBe(true);
    expect(fanout.publish(Buffer.alloc(100))).toBe(false);
    const resumed: string[] = [];
    fanout.whenReady(() => resumed.push('owner'));
    expect(resumed).toEqual([]);
    watch.detach();
    watch.detach();
    expect(resumed).toEqual(['owner']);
    fanout.whenReady(() => resumed.push('again'));
    expect(resumed).toEqual(['owner', 'again']);
    expect(fanout.publish('b')).toBe(true);
    expect(fanout.size()).toBe(1);
    expect(fanout.queued(stalled)).toBe(0);
  });
});
