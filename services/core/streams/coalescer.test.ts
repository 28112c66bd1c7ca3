import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkCoalescer } from './coalescer.js';

describe('ChunkCoalescer', () => {
  it('sends the chunks of one turn as one message, in order, after the turn', async () => {
    const sent: Buffer[] = [];
    const c = new ChunkCoalescer((b) => sent.push(b), 1024);
    c.push(Buffer.from('ab'));
    c.push(Buffer.from('cd'));
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent.map(String)).toEqual(['abcd']);
  });

  it('sends at once when the bound is reached, and flush() sends what is held', () => {
    const sent: Buffer[] = [];
    const c = new ChunkCoalescer((b) => sent.push(b), 4);
    c.push(Buffer.from('abc'));
    c.push(Buffer.from('de'));
    expect(sent.map(String)).toEqual(['abcde']);
    c.push(Buffer.from('f'));
    c.flush();
    c.flush();
    expect(sent.map(String)).toEqual(['abcde', 'f']);
  });

  it('never reorders, drops or holds more than the bound plus one chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 64 }),
        async (chunks, max) => {
          const sent: Buffer[] = [];
          const c = new ChunkCoalescer((b) => sent.push(b), max);
          for (const chunk of chunks) c.push(Buffer.from(chunk));
          await nextTurn();
          expect(Buffer.concat(sent)).toEqual(Buffer.concat(chunks.map((x) => Buffer.from(x))));
          const largest = Math.max(0, ...chunks.map((x) => x.length));
          for (const b of sent) expect(b.length).toBeLessThan(max + largest + 1);
        },
      ),
    );
  });
});
