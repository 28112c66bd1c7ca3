import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeModerators, encodeModerators } from './executor-proto.js';

describe('moderators metadata (the mediator claim of a moderated intent)', () => {
  it('decodes what it encodes, names with commas, spaces and non-ASCII included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, unit: 'binary' }), { minLength: 1, maxLength: 6 }),
        (names) => {
          const encoded = encodeModerators(names);
          expect(encoded).toMatch(/^[\x21-\x7e]+$/);
          expect(decodeModerators([encoded])).toEqual(names);
        },
      ),
    );
  });

  it('reads anything it did not make as no moderators (fail closed)', () => {
    expect(decodeModerators([])).toEqual([]);
    expect(decodeModerators([''])).toEqual([]);
    // Repeated headers joined by HTTP/2, as an older mediator's claim arrives.
    expect(decodeModerators(['lea, max'])).toEqual([]);
    expect(decodeModerators(['lea', 'max'])).toEqual([]);
    expect(decodeModerators(['lea,,max'])).toEqual([]);
    expect(decodeModerators(['%E0%A4%A'])).toEqual([]);
    expect(decodeModerators(['%E0%A4'])).toEqual([]);
    expect(decodeModerators(['%41'])).toEqual([]);
    expect(decodeModerators([Buffer.from('lea')])).toEqual([]);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const names = decodeModerators([value]);
        if (names.length > 0) expect(encodeModerators(names)).toBe(value);
      }),
    );
  });
});
