/**
 * sanitizeForTerminal: nothing a terminal interprets gets through, and
 * sanitizing twice changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sanitizeForTerminal } from './sanitize.js';

// C0 except tab, DEL, C1 (ESC is in C0).
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;

describe('sanitizeForTerminal', () => {
  it.each([
    { name: 'plain text', input: 'api-0 Running', output: 'api-0 Running' },
    { name: 'tab kept', input: 'a\tb', output: 'a\tb' },
    { name: 'CSI sequence', input: '\x1b[31mred\x1b[0m', output: '\\x1b[31mred\\x1b[0m' },
    { name: 'OSC title', input: '\x1b]0;owned\x07', output: '\\x1b]0;owned\\x07' },
    { name: 'newline and CR', input: 'a\r\nb', output: 'a\\x0d\\x0ab' },
    { name: 'NUL and DEL', input: '\0\x7f', output: '\\x00\\x7f' },
    { name: '8-bit CSI', input: '\x9b31m', output: '\\x9b31m' },
    { name: 'bidi override', input: 'abc\u202edef', output: 'abc\\u202edef' },
    { name: 'line separator', input: 'a\u2028b', output: 'a\\u2028b' },
    { name: 'unicode letters kept', input: 'héllo ✓ 日本', output: 'héllo ✓ 日本' },
  ])('$name', ({ input, output }) => {
    expect(sanitizeForTerminal(input)).toBe(output);
  });

  it('leaves no control character and is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const once = sanitizeForTerminal(input);
        expect(CONTROL.test(once)).toBe(false);
        expect(sanitizeForTerminal(once)).toBe(once);
      }),
      { numRuns: 5000 },
    );
  });
});
