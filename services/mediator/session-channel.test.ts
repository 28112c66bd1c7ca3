import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forwardChunk } from '../core/streams/backpressure.js';
import type { ConnectionState } from './frontend-context.js';
import { watched } from './session-channel.js';

/** A channel whose writes complete only when `flush()` is called. */
function channel(highWaterMark: number) {
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark,
    write(_chunk, _encoding, done) {
      pending.push(done);
    },
  });
  const flush = () => {
    for (const done of pending.splice(0)) done();
  };
  return { stream, flush };
}

/** A live session whose fan-out holds the owner while `holding` is set. */
function live() {
  const waiting: (() => void)[] = [];
  const fake = {
    holding: false,
    published: [] as string[],
    publish(chunk: Buffer | string) {
      fake.published.push(chunk.toString());
      return !fake.holding;
    },
    whenReady(listener: () => void) {
      if (fake.holding) waiting.push(listener);
      else listener();
    },
    release() {
      fake.holding = false;
      for (const listener of waiting.splice(0)) listener();
    },
  };
  return fake;
}

/** The executor stream as forwardChunk sees it. */
function source() {
  const events: string[] = [];
  return { events, pause: () => events.push('pause'), resume: () => events.push('resume') };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('watched: the owner channel with a live session', () => {
  it('holds the source while a moderator is behind, though the channel has room', () => {
    const { stream } = channel(1024);
    const session = live();
    const out = watched(stream, { live: session } as unknown as ConnectionState);
    const from = source();
    session.holding = true;
    expect(forwardChunk(out, Buffer.from('abc'), from)).toBe(false);
    expect(session.published).toEqual(['abc']);
    expect(from.events).toEqual(['pause']);
    session.release();
    expect(from.events).toEqual(['pause', 'resume']);
  });

  it('resumes only once both the channel has drained and no moderator holds', async () => {
    const { stream, flush } = channel(2);
    const session = live();
    const out = watched(stream, { live: session } as unknown as ConnectionState);
    const from = source();
    session.holding = true;
    expect(forwardChunk(out, Buffer.from('abc'), from)).toBe(false);
    session.release();
    expect(from.events).toEqual(['pause']);
    flush();
    await settle();
    expect(from.events).toEqual(['pause', 'resume']);
  });

  it('is the channel itself without a live session', async () => {
    const { stream, flush } = channel(2);
    const out = watched(stream, {} as ConnectionState);
    const from = source();
    expect(forwardChunk(out, Buffer.from('a'), from)).toBe(true);
    expect(forwardChunk(out, Buffer.from('bc'), from)).toBe(false);
    expect(from.events).toEqual(['pause']);
    flush();
    await settle();
    flush();
    await settle();
    expect(from.events).toEqual(['pause', 'resume']);
  });
});
