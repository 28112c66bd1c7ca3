import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DevStack } from '../../services/cli/dev/dev-stack.js';
import { podProcesses, sshCommand, waitFor, withDevStack } from './support/dev-stack-faults.js';

/**
 * The kube-apiserver of the stack's own hermetic cluster (not the shared
 * one) is stopped under a running `logs -f` and exec, kept down while new
 * commands arrive, and started again on the same port, certificates and
 * etcd. The mediator and executor processes are never restarted.
 */

interface TrailEvent {
  type: string;
  event: string;
  code?: string;
  decision?: string;
  target?: { resource?: string };
}

function trail(stack: DevStack, tier: 'mediator' | 'executor'): TrailEvent[] {
  return readFileSync(join(stack.stateDir, 'audit', `${tier}.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TrailEvent)
    .filter((record) => record.type === 'event');
}

/** `event` records for `resource` in one tier's trail that carry `code`. */
function failures(stack: DevStack, tier: 'mediator' | 'executor', event: string, resource: string) {
  return trail(stack, tier).filter(
    (e) =>
      e.event === event &&
      e.target?.resource === resource &&
      e.decision === 'deny' &&
      e.code === 'KUBERNETES_UNAVAILABLE',
  ).length;
}

const UNAVAILABLE = /^airlock: KUBERNETES_UNAVAILABLE: /m;

describe('adversarial: the Kubernetes API server stops and comes back', () => {
  it('running logs -f and exec end with KUBERNETES_UNAVAILABLE (exit 69) within 5 s; new commands fail fast with it; after the restart new sessions work; both trails record each failure', async () => {
    const argv = ['sleep', '47.75'];
    await withDevStack(argv, async (stack) => {
      // In flight: a followed log and an exec whose stdin stays open.
      const follow = sshCommand(stack, ['logs', 'payments-worker-0', '-f']);
      const exec = sshCommand(stack, ['exec', 'payments-api-0', '--', ...argv]);
      expect(await waitFor(() => podProcesses(stack, argv).length === 1, 15_000)).toBe(true);
      await stack.cluster.stopApiServer();
      const stoppedAt = Date.now();
      const [followed, execed] = await Promise.all([follow.done, exec.done]);
      expect(followed.code).toBe(69);
      expect(followed.stderr).toMatch(UNAVAILABLE);
      expect(followed.stdout).toMatch(/processed batch \d+/);
      expect(execed.code).toBe(69);
      expect(execed.stderr).toMatch(
        /^airlock: KUBERNETES_UNAVAILABLE: the connection to the Kubernetes API was lost/m,
      );
      // Behaviour bounds (the user is told promptly), not benchmarks.
      expect(followed.endedAt - stoppedAt).toBeLessThanOrEqual(5000);
      expect(execed.endedAt - stoppedAt).toBeLessThanOrEqual(5000);

      // While it is down: new sessions open (no Kubernetes call), every intent fails with the code.
      for (const command of [
        ['pods'],
        ['logs', 'payments-worker-0', '--tail', '1'],
        ['exec', 'payments-api-0', '--', 'ps', 'aux'],
      ]) {
        const startedAt = Date.now();
        const result = await sshCommand(stack, command).done;
        expect({ command, code: result.code }).toEqual({ command, code: 69 });
        expect(result.stderr).toMatch(UNAVAILABLE);
        expect(result.endedAt - startedAt).toBeLessThanOrEqual(20_000);
      }

      await stack.cluster.startApiServer();
      const pods = await sshCommand(stack, ['pods']).done;
      expect(pods.code).toBe(0);
      expect(pods.stdout).toMatch(/^payments-api-0\s+1\/1\s+Running/m);
      const ps = await sshCommand(stack, ['exec', 'payments-api-0', '--', 'ps', 'aux']).done;
      expect(ps.code).toBe(0);
      expect(ps.stdout).toContain('ps aux');
      const logs = await sshCommand(stack, ['logs', 'payments-worker-0', '--tail', '1']).done;
      expect(logs.code).toBe(0);
      expect(logs.stdout).toMatch(/^processed batch \d+\n$/);

      // Each failure in both trails: the two streams cut, plus the three refused while down.
      for (const tier of ['mediator', 'executor'] as const) {
        expect({ tier, n: failures(stack, tier, 'logs.streamed', 'pods/log') }).toEqual({ tier, n: 2 });
        expect({ tier, n: failures(stack, tier, 'exec.exited', 'pods/exec') }).toEqual({ tier, n: 2 });
        expect({ tier, n: failures(stack, tier, 'intent.denied', 'pods') }).toEqual({ tier, n: 1 });
      }
    });
  });
});
