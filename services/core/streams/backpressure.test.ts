import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forwardChunk, writeThen } from './backpressure.js';

/** A Writable that holds every chunk until `release()` is called. */
function slowSink(highWaterMark: number) {
  const pending: Array<() => void> = [];
  const sink = new Writable({
    highWaterMark,
    write(_chunk, _encoding, done) {
      pending.push(done);
    },
  });
  return {
    sink,
    release() {
      for (const done of pending.splice(0)) done();
    },
  };
}

describe('forwardChunk', () => {
  it('leaves the source flowing while the destination has room', () => {
    const source = new PassThrough();
    source.resume();
    const into = new PassThrough({ highWaterMark: 1024 });
    expect(forwardChunk(into, Buffer.from('abc'), source)).toBe(true);
    expect(source.isPaused()).toBe(false);
  });

  it('pauses the source while the destination is full and resumes it on drain', async () => {
    const source = new PassThrough();
    source.resume();
    const { sink, release } = slowSink(4);
    expect(forwardChunk(sink, Buffer.from('12345678'), source)).toBe(false);
    expect(source.isPaused()).toBe(true);
    const drained = new Promise((resolve) => sink.once('drain', resolve));
    release();
    await drained;
    expect(source.isPaused()).toBe(false);
  });

  it('writes without a source to hold', () => {
    const { sink } = slowSink(1);
    expect(forwardChunk(sink, Buffer.from('xx'), undefined)).toBe(false);
    expect(sink.writableLength).toBe(2);
  });
});

describe('writeThen', () => {
  it('continues at once while the destination has room', () => {
    const into = new PassThrough({ highWaterMark: 1024 });
    let continued = 0;
    writeThen(into, Buffer.from('abc'), () => continued++);
    expect(continued).toBe(1);
  });

  it('continues only after the destination drains', async () => {
    const { sink, release } = slowSink(2);
    let continued = 0;
    writeThen(sink, Buffer.from('abcd'), () => continued++);
    expect(continued).toBe(0);
    const drained = new Promise((resolve) => sink.once('drain', resolve));
    release();
    await drained;
    expect(continued).toBe(1);
  });
});
