import { describe, expect, it } from 'vitest';
import {
  execCompletedAt,
  podProcesses,
  sshExec,
  tierPid,
  waitFor,
  withDevStack,
} from './support/dev-stack-faults.js';

/**
 * The mediator-side fault (mediator SIGKILLed mid-exec) is in
 * pending/mediator-killed.test.ts: at HEAD the executor keeps the
 * Kubernetes exec stream open after its gRPC client is gone.
 */
describe('adversarial: fault injection on the real executor process', () => {
  it('executor SIGKILLed mid-exec: the ssh client gets `airlock: EXECUTOR_UNAVAILABLE` (exit 69) within 5 s, and the API server sees the exec stream end', async () => {
    const argv = ['sleep', '53.25'];
    await withDevStack(argv, async (stack) => {
      const run = sshExec(stack, argv);
      expect(await waitFor(() => podProcesses(stack, argv).length === 1, 15_000)).toBe(true);

      const killedAt = Date.now();
      process.kill(tierPid(stack, 'executor'), 'SIGKILL');
      const result = await run.done;

      expect(result.code).toBe(69);
      expect(result.stderr).toMatch(/^airlock: EXECUTOR_UNAVAILABLE: /m);
      // A behaviour bound (the user is told promptly), not a benchmark.
      expect(result.endedAt - killedAt).toBeLessThanOrEqual(5000);
      // The executor's connection died with it, so the kube-apiserver closed the exec
      // (audit stage ResponseComplete). The process in the pod outlives it: see the threat model.
      expect(await waitFor(() => execCompletedAt(stack, argv) !== undefined, 5000)).toBe(true);
    });
  });
});
