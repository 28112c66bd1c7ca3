import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` until it holds or `timeoutMs` passes; resolves to its
 * last answer. Tests wait on the state they need (an audit record, a session
 * count) rather than on a fixed sleep, which a loaded machine outlasts.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  pollMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(pollMs);
  }
  return condition();
}
