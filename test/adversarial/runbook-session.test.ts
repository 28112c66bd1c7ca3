import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../services/core/audit/types.js';
import {
  loadPolicy,
  type Policy,
  runbookScope,
  runbookStepsDigest,
} from '../../services/core/policy/index.js';
import { freePort } from '../../services/core/service/free-port.js';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  newSession,
  startGateway,
  type TestSession,
  testPolicy,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from '../support/kube.js';
import { type Mediator, ssh, sshArgs, sshUser, startMediator } from '../support/mediator-harness.js';
import { runExec } from './support/adversarial.js';

/** The runbook's steps; both are also allowed by the `debug` profile's own command rules. */
const STEPS = [
  ['echo', 'health-ok'],
  ['sh', '-c', 'exit 7'],
];

/** testPolicy's `debug` profile (which allows much more), offering runbook `payments-health`. */
function runbookPolicy(namespace: string): Policy {
  const base = testPolicy([namespace]);
  return loadPolicy({
    ...base,
    profiles: { debug: { ...base.profiles.debug, runbooks: ['payments-health'] } },
    runbooks: {
      'payments-health': { steps: STEPS, machineUsers: ['system:serviceaccount:ops:runner'] },
    },
  });
}

const deniedWith = (events: readonly AuditEvent[], code: string) =>
  events.filter((e) => e.event === 'intent.denied' && e.code === code);

/**
 * Security review 16, finding 1: a certificate issued for a runbook must
 * allow exactly the runbook's steps, at both tiers, and stop working when
 * the policy's runbook is removed or its steps change.
 */
describe('adversarial: finding 1: a runbook session may exec exactly its steps', () => {
  const suffix = uniqueName('rb');
  const namespace = `payments-${suffix}`;
  const policy = runbookPolicy(namespace);
  const base: AirlockScope = {
    cluster: CLUSTER_NAME,
    namespace,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId: 'req-runbook',
    groups: [],
  };
  const scope: AirlockScope = { ...base, runbook: runbookScope(policy, 'payments-health')! };
  let gateway: Gateway;
  let mediator: Mediator;
  /** What a compromised mediator holds for a runbook certificate: the executor alone must refuse. */
  let direct: TestSession;

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, namespace);
    await createRunningPod(admin, namespace, 'api-0', [{ name: 'main' }]);
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [`jit:debug:${namespace}`], [namespace]),
    );
    mediator = await startMediator(gateway, policy);
    direct = await newSession(gateway, { scope });
    await direct.client.openSession(direct.request);
  });

  afterAll(async () => {
    direct?.client.close();
    await mediator?.stop();
    await gateway?.stop();
  });

  it('runs each step of the runbook over ssh', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    expect(await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'health-ok'])).toEqual({
      code: 0,
      stdout: 'health-ok\n',
      stderr: '',
    });
    // The step's own exit status passes through: it ran.
    expect(await ssh(mediator, user, ['exec', 'api-0', '--', 'sh', '-c', "'exit 7'"])).toEqual({
      code: 7,
      stdout: '',
      stderr: '',
    });
  });

  it.each([
    ['pods', ['pods']],
    ['logs', ['logs', 'api-0']],
    ['describe', ['describe', 'api-0']],
    ['a command the profile allows that is not a step', ['exec', 'api-0', '--', 'echo', 'not-a-step']],
    ['a step with an extra argument', ['exec', 'api-0', '--', 'echo', 'health-ok', 'x']],
    ['a debug container', ['debug', 'api-0', '--image', 'busybox:1.36', '--', 'echo', 'x']],
  ])('refuses %s over ssh with SCOPE_RUNBOOK, audited', async (_name, command) => {
    const user = sshUser(gateway.sshCa, { scope });
    const before = mediator.audit.events().length;
    const result = await ssh(mediator, user, command);
    expect(result.code).toBe(77);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^airlock: SCOPE_RUNBOOK: /);
    expect(deniedWith(mediator.audit.events().slice(before), 'SCOPE_RUNBOOK')).toHaveLength(1);
  });

  it('refuses ssh -W and ssh -L forwarding (direct-tcpip) with SCOPE_RUNBOOK; nothing reaches the executor', async () => {
    // The certificate even carries permit-port-forwarding (the broker would
    // not grant it for a runbook); the scope alone must refuse.
    const user = sshUser(gateway.sshCa, { scope });
    const before = mediator.audit.events().length;
    const stdio = await ssh(mediator, user, [], { extra: ['-W', 'api-0:8080'] });
    expect(stdio.code).toBe(255);
    expect(stdio.stderr).toMatch(/open failed/);
    expect(deniedWith(mediator.audit.events().slice(before), 'SCOPE_RUNBOOK')).toHaveLength(1);

    // A port the OS says is free now: a random one could be taken by another test's listener.
    const localPort = await freePort();
    const child = spawn('ssh', [...sshArgs(mediator, user, ['-N', '-L', `${localPort}:api-0:8080`])], {
      stdio: 'ignore',
    });
    try {
      // Connect until ssh listens and its forward has been refused (audited);
      // every connection gets nothing back.
      let refusals = 0;
      for (let attempt = 0; attempt < 100 && refusals < 2; attempt++) {
        const reply = await new Promise<string>((resolve) => {
          const socket = connect(localPort, '127.0.0.1');
          let data = '';
          socket.on('connect', () => socket.write('ping'));
          socket.on('data', (d) => {
            data += d;
          });
          socket.on('error', () => resolve(data));
          socket.on('close', () => resolve(data));
        });
        expect(reply).toBe('');
        refusals = deniedWith(mediator.audit.events().slice(before), 'SCOPE_RUNBOOK').length;
        if (refusals < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(refusals).toBe(2);
    } finally {
      child.kill();
    }
    expect(gateway.audit.events().filter((e) => e.event === 'portforward.opened')).toEqual([]);
  });

  it('whoami shows the runbook', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const text = await ssh(mediator, user, ['whoami']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^runbook: +payments-health \(only its steps; sha256:[0-9a-f]{12}…\)$/m);
    const json = await ssh(mediator, user, ['whoami', '-o', 'json']);
    expect(JSON.parse(json.stdout).runbook).toEqual({
      name: 'payments-health',
      steps_digest: scope.runbook!.stepsDigest,
    });
  });

  it('the executor refuses on its own (mediator skipped): a non-step, a list, a forward; a step runs', async () => {
    const step = await runExec(direct.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'health-ok'],
    });
    expect(step.error).toBeUndefined();
    expect(step.stdout.toString()).toBe('health-ok\n');

    const before = gateway.audit.events().length;
    const other = await runExec(direct.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'not-a-step'],
    });
    expect(other.error?.code).toBe('SCOPE_RUNBOOK');
    expect(other.stdout.toString()).toBe('');
    await expect(direct.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: 'SCOPE_RUNBOOK',
    });
    const forward = direct.client.portForward();
    const ended = new Promise<string | undefined>((resolve) => {
      forward.on('error', (error: { metadata?: { get(key: string): unknown[] } }) =>
        resolve(String(error.metadata?.get('airlock-code')[0])),
      );
      forward.on('end', () => resolve(undefined));
      forward.on('data', () => undefined);
    });
    forward.write({ start: { target: { namespace: '', pod: 'api-0', container: '' }, port: 8080 } });
    expect(await ended).toBe('SCOPE_RUNBOOK');
    expect(deniedWith(gateway.audit.events().slice(before), 'SCOPE_RUNBOOK')).toHaveLength(3);
  });

  it.each<[string, AirlockScope['runbook']]>([
    [
      'a runbook the policy no longer has',
      { name: 'retired-runbook', stepsDigest: runbookStepsDigest(STEPS) },
    ],
    [
      'a step digest that no longer matches the policy (the runbook was edited)',
      { name: 'payments-health', stepsDigest: runbookStepsDigest([['echo', 'health-ok']]) },
    ],
  ])('refuses a certificate naming %s with SCOPE_RUNBOOK_STALE, at both tiers', async (_name, runbook) => {
    const stale: AirlockScope = { ...base, runbook: runbook! };
    const before = mediator.audit.events().length;
    const result = await ssh(mediator, sshUser(gateway.sshCa, { scope: stale }), [
      'exec',
      'api-0',
      '--',
      'echo',
      'health-ok',
    ]);
    expect(result.code).toBe(77);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^airlock: SCOPE_RUNBOOK_STALE: /);
    expect(deniedWith(mediator.audit.events().slice(before), 'SCOPE_RUNBOOK_STALE')).toHaveLength(1);

    const session = await newSession(gateway, { scope: stale });
    try {
      await session.client.openSession(session.request);
      const ran = await runExec(session.client, {
        target: { namespace: '', pod: 'api-0', container: '' },
        argv: ['echo', 'health-ok'],
      });
      expect(ran.error?.code).toBe('SCOPE_RUNBOOK_STALE');
      expect(ran.stdout.toString()).toBe('');
    } finally {
      session.client.close();
    }
  });

  it('control: the same profile without a runbook in the certificate still lists pods and runs other commands', async () => {
    const user = sshUser(gateway.sshCa, { scope: base });
    expect((await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'not-a-step'])).stdout).toBe(
      'not-a-step\n',
    );
    const pods = await ssh(mediator, user, ['pods']);
    expect(pods.code).toBe(0);
    expect(pods.stdout).toContain('api-0');
  });
});
