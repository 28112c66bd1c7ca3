import { describe, expect, it } from 'vitest';
import { ssh2Crypto } from './ssh2-crypto.js';

describe("ssh2Crypto: which crypto ssh2 runs on, for the mediator's start line", () => {
  it('is native on this Node: the postinstall built the binding for it (scripts/native-addons.js)', () => {
    expect(ssh2Crypto()).toBe('native');
  });

  it('is javascript when ssh2 reports no binding (its silent fallback)', () => {
    expect(ssh2Crypto({ bindingAvailable: false })).toBe('javascript');
    expect(ssh2Crypto({})).toBe('javascript');
  });
});
