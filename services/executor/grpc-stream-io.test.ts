import { describe, expect, it } from 'vitest';
import { coalesce } from './grpc-stream-io.js';

describe('coalesce', () => {
  it('joins consecutive buffers up to the bound, keeps order, leaves a larger one whole', () => {
    const b = (s: string) => Buffer.from(s);
    const out = coalesce([b('ab'), b('cd'), b('efghij'), b('k'), b('l')], 4);
    expect(out.map(String)).toEqual(['abcd', 'efghij', 'kl']);
    expect(coalesce([], 4)).toEqual([]);
  });
});
