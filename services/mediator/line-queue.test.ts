import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lineQueue } from './line-queue.js';

function typed() {
  const input = new PassThrough();
  const readline = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  return { input, readline, lines: lineQueue(readline) };
}

describe('lineQueue', () => {
  it('hands out lines in order, typed ahead or waited for', async () => {
    const { input, lines } = typed();
    input.write('one\ntwo\n');
    const third = lines.next().then(async (first) => [first, await lines.next(), await lines.next()]);
    await new Promise((resolve) => setImmediate(resolve));
    input.write('three\n');
    expect(await third).toEqual(['one', 'two', 'three']);
  });

  it('an aborted wait takes no line: the next line goes to the next reader', async () => {
    const { input, lines } = typed();
    const stop = new AbortController();
    const joined = lines.next(stop.signal);
    stop.abort();
    expect(await joined).toBeUndefined();
    expect(await lines.next(stop.signal)).toBeUndefined();
    const prompt = lines.next();
    input.write('whoami\n');
    expect(await prompt).toBe('whoami');
  });

  it('ends every wait once the input has ended, after the lines typed before', async () => {
    const { input, lines } = typed();
    input.end('last\n');
    expect(await lines.next()).toBe('last');
    expect(await lines.next()).toBeUndefined();
  });
});
