/** asciicast v2 parsing and validation, line formatting and ANSI stripping. */
import { describe, expect, it } from 'vitest';
import {
  AsciicastFormatError,
  formatAsciicastFrame,
  formatAsciicastHeader,
  isAsciicastHeaderLine,
  parseAsciicast,
  stripAnsi,
} from './asciicast.js';

const header = '{"version":2,"width":80,"height":24,"timestamp":1795000000,"env":{"TERM":"xterm"}}';

describe('parseAsciicast', () => {
  it('reads the header and every event', () => {
    const cast = parseAsciicast(`${header}\n[0.5,"o","hi\\r\\n"]\n[1,"i","q"]\n[1.25,"r","100x30"]\n`);
    expect(cast.header).toEqual({
      version: 2,
      width: 80,
      height: 24,
      timestamp: 1795000000,
      env: { TERM: 'xterm' },
    });
    expect(cast.frames).toEqual([
      [0.5, 'o', 'hi\r\n'],
      [1, 'i', 'q'],
      [1.25, 'r', '100x30'],
    ]);
  });

  it.each([
    ['', 1, 'empty file'],
    ['{"version":1,"width":80,"height":24}', 1, 'version must be 2'],
    ['{"version":2,"width":0,"height":24}', 1, 'width and height'],
    ['[0,"o","x"]', 1, 'not a JSON object'],
    [`${header}\n[0.5,"o"]`, 2, 'an event must be'],
    [`${header}\n[0.5,"x","y"]`, 2, 'unknown event code'],
    [`${header}\n[1,"o","a"]\n[0.5,"o","b"]`, 3, 'before the previous event'],
    [`${header}\n[-1,"o","a"]`, 2, 'non-negative'],
    [`${header}\n[1,"o",5]`, 2, 'data must be a string'],
    [`${header}\n{oops`, 2, 'not JSON'],
  ])('rejects %j at line %i (%s)', (text, line, message) => {
    try {
      parseAsciicast(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AsciicastFormatError);
      expect((error as AsciicastFormatError).line).toBe(line);
      expect((error as Error).message).toContain(message);
    }
  });

  it('recognises a header line', () => {
    expect(isAsciicastHeaderLine(header)).toBe(true);
    expect(isAsciicastHeaderLine('{"v":1,"tier":"broker"}')).toBe(false);
    expect(isAsciicastHeaderLine('-----BEGIN PUBLIC KEY-----')).toBe(false);
  });
});

describe('formatting and stripping', () => {
  it('formats lines that parse back', () => {
    const text =
      formatAsciicastHeader({ version: 2, width: 80, height: 24 }) +
      formatAsciicastFrame(1.23456789, 'o', 'a"\u001b');
    expect(text).toBe('{"version":2,"width":80,"height":24}\n[1.234568,"o","a\\"\\u001b"]\n');
    expect(parseAsciicast(text).frames).toEqual([[1.234568, 'o', 'a"\u001b']]);
  });

  it('strips CSI, OSC, 8-bit CSI and other controls; keeps newlines and tabs', () => {
    expect(
      stripAnsi(
        '\u001b[1;31mred\u001b[0m\r\n\u001b]0;title\u0007x\u001b]8;;http://e\u001b\\\\y\u009b2Jz\tq\u0008\r',
      ),
    ).toBe('red\nx\\yz\tq');
    expect(stripAnsi('\u001b(Bplain\u001b=')).toBe('plain');
  });
});
