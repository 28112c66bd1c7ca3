import { describe, expect, it } from 'vitest';
import { otelcolImageKey } from './otelcol-image.js';

describe("the audit-shipping collector image's cache key", () => {
  const dockerfile = Buffer.from('FROM runtime-base\n');
  const binary = Buffer.from('\x7fELF a collector');

  it('is the same for the same base, Dockerfile and binary', () => {
    const key = otelcolImageKey('0123456789abcdef', dockerfile, binary);
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(otelcolImageKey('0123456789abcdef', Buffer.from(dockerfile), Buffer.from(binary))).toBe(key);
  });

  it('changes with the runtime base, the Dockerfile or the collector binary', () => {
    const key = otelcolImageKey('0123456789abcdef', dockerfile, binary);
    expect(otelcolImageKey('fedcba9876543210', dockerfile, binary)).not.toBe(key);
    expect(otelcolImageKey('0123456789abcdef', Buffer.from('FROM scratch\n'), binary)).not.toBe(key);
    expect(otelcolImageKey('0123456789abcdef', dockerfile, Buffer.from('\x7fELF another'))).not.toBe(key);
  });
});
