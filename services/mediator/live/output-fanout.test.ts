import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutputFanout } from './output-fanout.js';

/** A watcher that reads everything at once. */
function fastWatcher() {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      received.push(chunk);
      done();
    },
  });
  return { sink, text: () => Buffer.concat(received).toString() };
}

/** A watcher that never reads: its writes stay in its buffer, as a stalled SSH window does. */
function stalledWatcher() {
  return new Writable({ highWaterMark: 16, write() {} });
}

describe('createOutputFanout', () => {
  it('gives a joiner the recent output, then everything published after', () => {
    const fanout = createOutputFanout({ replayBytes: 8, maxBufferedBytes: 1024 });
    fanout.publish('old-output\n');
    fanout.publish('recent\n');
    const watcher = fastWatcher();
    fanout.attach(watcher.sink, () => {});
    fanout.publish('live');
    // The replay is cut at a chunk boundary: at most replayBytes, never half a chunk.
    expect(watcher.text()).toBe('recent\nlive');
  });

  it('drops a stalled watcher once it is maxBufferedBytes behind; the owner and other watchers go on', () => {
    const fanout = createOutputFanout({ replayBytes: 0, maxBufferedBytes: 1000 });
    const fast = fastWatcher();
    const stalled = stalledWatcher();
    const drops: string[] = [];
    fanout.attach(fast.sink, () => drops.push('fast'));
    fanout.attach(stalled, () => drops.push('stalled'));
    const chunk = Buffer.alloc(100, 'x');
    for (let i = 0; i < 10; i++) fanout.publish(chunk);
    expect(drops).toEqual([]);
    expect(stalled.writableLength).toBe(1000);
    fanout.publish(chunk);
    expect(drops).toEqual(['stalled']);
    expect(fanout.size()).toBe(1);
    // Never written past the bound, however much the owner goes on printing.
    for (let i = 0; i < 100; i++) fanout.publish(chunk);
    expect(stalled.writableLength).toBe(1000);
    expect(fast.text()).toHaveLength(111 * 100);
    expect(drops).toEqual(['stalled']);
  });

  it('stops writing to a detached watcher', () => {
    const fanout = createOutputFanout({ replayBytes: 0, maxBufferedBytes: 1000 });
    const watcher = fastWatcher();
    const watch = fanout.attach(watcher.sink, () => {});
    fanout.publish('a');
    watch.detach();
    watch.detach();
    fanout.publish('b');
    expect(watcher.text()).toBe('a');
    expect(fanout.size()).toBe(0);
  });
});
