import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys recursively and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('drops undefined members and writes non-finite numbers as null, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: Number.NaN, c: [undefined] })).toBe('{"b":null,"c":[null]}');
  });

  it('escapes C0, DEL, C1, line separators and bidi overrides so a terminal cannot interpret them', () => {
    const text = canonicalJson({ s: '\u001b[2J\u0007\u007f\u009b31m\u2028\u202e\u2066' });
    expect(text).toBe('{"s":"\\u001b[2J\\u0007\\u007f\\u009b31m\\u2028\\u202e\\u2066"}');
    expect(JSON.parse(text)).toEqual({ s: '\u001b[2J\u0007\u007f\u009b31m\u2028\u202e\u2066' });
    expect(canonicalJson(JSON.parse(text))).toBe(text);
  });

  it('hashes UTF-8 with SHA-256 in hex', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
