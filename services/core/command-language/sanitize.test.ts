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
  it.each<[string, string, string]>([
    ['plain text', 'api-0 Running', 'api-0 Running'],
    ['tab kept', 'a\tb', 'a\tb'],
    ['CSI sequence', '\x1b[31mred\x1b[0m', '\\x1b[31mred\\x1b[0m'],
    ['OSC title', '\x1b]0;owned\x07', '\\x1b]0;owned\\x07'],
    ['newline and CR', 'a\r\nb', 'a\\x0d\\x0ab'],
    ['NUL and DEL', '\0\x7f', '\\x00\\x7f'],
    ['8-bit CSI', '\x9b31m', '\\x9b31m'],
    ['bidi override', 'abc\u202edef', 'abc\\u202edef'],
    ['line separator', 'a\u2028b', 'a\\u2028b'],
    ['unicode letters kept', 'héllo ✓ 日本', 'héllo ✓ 日本'],
  ])('%s', (_name, input, output) => {
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
