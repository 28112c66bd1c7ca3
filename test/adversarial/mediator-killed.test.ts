/**
 * A mediator killed mid-exec: the executor sees the gRPC call cancelled and
 * ends its Kubernetes exec connection at once (no leaked WebSocket), instead
 * of holding it until the session expires; the end is in its audit trail.
 * Kubernetes itself keeps a non-tty process running after its exec stream is
 * gone (as with an interrupted `kubectl exec`): see docs/threat-model.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podProcesses, sshExec, tierPid, waitFor, withDevStack } from './support/dev-stack-faults.js';

describe('a mediator killed mid-exec', () => {
  it('the executor ends its side of the exec within 2 s and audits it as cancelled', async () => {
    const argv = ['sleep', '54.25'];
    await withDevStack(argv, async (stack) => {
      const run = sshExec(stack, argv);
      expect(await waitFor(() => podProcesses(stack, argv).length === 1, 15_000)).toBe(true);

      const killedAt = Date.now();
      process.kill(tierPid(stack, 'mediator'), 'SIGKILL');
      // The SSH connection dies with the mediator.
      expect((await run.done).code).toBe(255);

      const trail = () => readFileSync(join(stack.stateDir, 'audit', 'executor.jsonl'), 'utf8');
      const cancelled =
        /"code":"CLIENT_CANCELLED"[^\n]*"event":"exec\.exited"[^\n]*"argv":\["sleep","54\.25"\]/;
      expect(await waitFor(() => cancelled.test(trail()), 2000)).toBe(true);
      expect(Date.now() - killedAt).toBeLessThanOrEqual(3000);
      // The executor itself is unharmed.
      expect(() => process.kill(tierPid(stack, 'executor'), 0)).not.toThrow();
    });
  });
});
