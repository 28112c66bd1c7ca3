import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOnlcr } from './terminal-newlines.js';

describe('createOnlcr', () => {
  it('turns each bare LF into CR LF and keeps the type of the chunk', () => {
    const onlcr = createOnlcr();
    expect(onlcr('user:  oncall\ngroups: x\n')).toBe('user:  oncall\r\ngroups: x\r\n');
    expect(onlcr(Buffer.from('a\nb'))).toEqual(Buffer.from('a\r\nb'));
  });

  it('leaves CR LF alone, also when a chunk ends between the two', () => {
    const onlcr = createOnlcr();
    expect(onlcr('$ ls\r\n')).toBe('$ ls\r\n');
    expect(onlcr('one\r')).toBe('one\r');
    expect(onlcr('\ntwo\n')).toBe('\ntwo\r\n');
  });

  it('returns the chunk itself when there is nothing to change', () => {
    const onlcr = createOnlcr();
    const chunk = Buffer.from('no newline');
    expect(onlcr(chunk)).toBe(chunk);
  });

  it('however the output is cut into chunks, the result is the same and has no bare LF', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(200), { maxLength: 8 }),
        (data, cuts) => {
          const whole = Buffer.from(createOnlcr()(Buffer.from(data)) as Buffer);
          const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
          const onlcr = createOnlcr();
          const parts: Buffer[] = [];
          let from = 0;
          for (const to of [...points, data.length]) {
            parts.push(Buffer.from(onlcr(Buffer.from(data.subarray(from, to))) as Buffer));
            from = to;
          }
          const joined = Buffer.concat(parts);
          expect(joined).toEqual(whole);
          for (let i = 0; i < joined.length; i++) if (joined[i] === 0x0a) expect(joined[i - 1]).toBe(0x0d);
        },
      ),
    );
  });
});
