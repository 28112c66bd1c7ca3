/**
 * A certificate revoked while its session is open. The executor re-checks
 * every open session's certificate against the revocation lists once a
 * second and ends a revoked session's streams with CERT_REVOKED (commit
 * "Executor: revocation reaches open sessions within a second";
 * docs/executor.md). The mediator maps CERT_REVOKED to exit status 65.
 *
 * What this does not assert: that the Kubernetes exec stream closes. At
 * HEAD it stays open until the process in the pod exits on its own
 * (kube-gateway.ts calls the WebSocket's close(), whose handshake the
 * kubelet does not answer); pending/exec-stream-closed-on-revocation.test.ts
 * asserts it. The test ends its own leftover `sleep` processes afterwards.
 */
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDenyList } from '../../services/core/ssh-cert/index.js';
import { type Gateway, newSession } from '../support/executor-harness.js';
import { clusterInfo } from '../support/kube.js';
import { debugTarget, type Mediator, ssh, sshUser, startDebugGateway } from '../support/mediator-harness.js';
import { processes, runExec } from './support/adversarial.js';

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(100);
  }
  return condition();
}

describe('adversarial: revoking a certificate cuts the sessions already open with it', () => {
  const target = debugTarget('rv', 'req-revoke');
  const { payments, scope } = target;
  let gateway: Gateway;
  let mediator: Mediator;
  const podDir = () => join(clusterInfo().kubeletStateDir, 'pods', payments, 'api-0');

  /** This test's exec'd processes: exact argv, running in this namespace's pod directory. */
  function podProcesses(argv: string[]): number[] {
    return processes()
      .filter((p) => {
        if (p.cmdline !== argv.join(' ')) return false;
        try {
          return readlinkSync(`/proc/${p.pid}/cwd`) === podDir();
        } catch {
          return false;
        }
      })
      .map((p) => p.pid);
  }

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
  });

  afterAll(async () => {
    for (const argv of [
      ['sleep', '41.5'],
      ['sleep', '42.5'],
    ])
      for (const pid of podProcesses(argv)) process.kill(pid, 'SIGKILL');
    await mediator?.stop();
    await gateway?.stop();
  });

  it('over ssh: a running exec ends with CERT_REVOKED (exit 65) within 5 s, and the executor audits the session closed', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const argv = ['sleep', '41.5'];
    const running = ssh(mediator, user, ['exec', 'api-0', '--', ...argv], { timeoutMs: 60_000 });
    expect(await waitFor(() => podProcesses(argv).length === 1, 10_000)).toBe(true);

    const revokedAt = Date.now();
    gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [user.serial.toString()] })));
    const result = await running;
    const tookMs = Date.now() - revokedAt;

    expect(result.code).toBe(65);
    expect(result.stderr).toMatch(/^airlock: CERT_REVOKED: /);
    expect(tookMs).toBeLessThanOrEqual(5000);
    expect(
      gateway.audit
        .events()
        .some((e) => e.event === 'session.closed' && e.code === 'CERT_REVOKED' && e.actor?.user === 'alice'),
    ).toBe(true);
  });

  it('over gRPC: an open stream is aborted with CERT_REVOKED and the session is gone', async () => {
    const session = await newSession(gateway, { scope });
    await session.client.openSession(session.request);
    const argv = ['sleep', '42.5'];
    const running = runExec(session.client, { target: { namespace: '', pod: 'api-0', container: '' }, argv });
    expect(await waitFor(() => podProcesses(argv).length === 1, 10_000)).toBe(true);

    gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [session.serial.toString()] })));
    const outcome = await running;
    expect(outcome.error?.code).toBe('CERT_REVOKED');
    expect(outcome.exit).toBeUndefined();
    await expect(session.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: expect.stringMatching(/^(SESSION_UNKNOWN|CERT_REVOKED)$/),
    });
    session.client.close();
  });
});
