import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

describe("the executor's WebSocket input masking", () => {
  it('runs on the native bufferutil that ws loads (its JavaScript masking led the stdin CPU profile)', () => {
    // ws requires 'bufferutil' from its own directory; resolve it the same way.
    const fromWs = createRequire(require.resolve('ws'));
    const bufferUtil = fromWs('bufferutil') as { mask: (...args: unknown[]) => void };
    expect(String(bufferUtil.mask)).toContain('[native code]');
  });
});
