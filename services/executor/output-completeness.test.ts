import { describe, expect, it } from 'vitest';
import { DRAIN_MS, FIRST_PING_MS, OutputHoldback, outputUnconfirmed } from './output-completeness.js';

function clocked() {
  let now = 0;
  const calls: string[] = [];
  const holdback = new OutputHoldback(
    () => ({ pause: () => calls.push('pause'), resume: () => calls.push('resume') }),
    () => now,
  );
  return { holdback, calls, advance: (ms: number) => (now += ms) };
}

describe('output completeness', () => {
  it('a stream never held back is trusted, however long it ran', () => {
    const { holdback } = clocked();
    expect(outputUnconfirmed(0, 60_000, holdback)).toBe(false);
  });

  it('held back at the status, after the first ping: unconfirmed; before the first ping: trusted', () => {
    const { holdback } = clocked();
    holdback.pause();
    expect(outputUnconfirmed(0, FIRST_PING_MS, holdback)).toBe(true);
    expect(outputUnconfirmed(0, FIRST_PING_MS - 1, holdback)).toBe(false);
  });

  it('a non-zero exit status is trusted: it comes after the last output byte', () => {
    const { holdback } = clocked();
    holdback.pause();
    expect(outputUnconfirmed(3, 60_000, holdback)).toBe(false);
  });

  it('flowing again for longer than DRAIN_MS before the status: trusted; within it: unconfirmed', () => {
    const { holdback, advance } = clocked();
    holdback.pause();
    advance(100);
    holdback.resume();
    advance(DRAIN_MS);
    expect(outputUnconfirmed(0, 10_000, holdback)).toBe(true);
    advance(1);
    expect(outputUnconfirmed(0, 10_000, holdback)).toBe(false);
  });

  it('two holders: the stream flows again only when both resume', () => {
    const { holdback, calls, advance } = clocked();
    holdback.pause();
    holdback.pause();
    holdback.resume();
    advance(DRAIN_MS + 1);
    expect(holdback.heldWithin(0)).toBe(true);
    holdback.resume();
    expect(calls).toEqual(['pause', 'pause', 'resume']);
  });
});
