import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../services/core/audit/types.js';
import { loadPolicy, type Policy } from '../../services/core/policy/index.js';
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
import { type Mediator, ssh, sshUser, startMediator } from '../support/mediator-harness.js';
import { runExec } from './support/adversarial.js';

const SECRET = 'hunter2-literal-in-pod-spec';

/** testPolicy's `debug` profile, and `reveal`: the same with `revealEnv`. */
function policyFor(namespace: string): Policy {
  const base = testPolicy([namespace]);
  return loadPolicy({
    ...base,
    profiles: { debug: base.profiles.debug, reveal: { ...base.profiles.debug, revealEnv: true } },
  });
}

const deniedWith = (events: readonly AuditEvent[], code: string) =>
  events.filter((e) => e.event === 'intent.denied' && e.code === code);

/**
 * Security review 16, finding 8: `-c CONTAINER` is checked against the
 * session's container patterns, lists show only the session's pods, and pod
 * specs come back without literal environment values.
 */
describe("adversarial: finding 8: containers, other pods and env values outside a session's scope", () => {
  const suffix = uniqueName('ct');
  const namespace = `payments-${suffix}`;
  const policy = policyFor(namespace);
  const scope: AirlockScope = {
    cluster: CLUSTER_NAME,
    namespace,
    podPatterns: ['api-0'],
    profile: 'debug',
    requestId: 'req-containers',
    groups: [],
    containerPatterns: ['main'],
  };
  let gateway: Gateway;
  let mediator: Mediator;
  /** What a compromised mediator holds: the executor alone must refuse and filter. */
  let direct: TestSession;

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, namespace);
    await createRunningPod(admin, namespace, 'api-0', [
      { name: 'main', env: [{ name: 'DB_PASSWORD', value: SECRET }] },
      { name: 'side' },
    ]);
    await createRunningPod(admin, namespace, 'api-1', [
      { name: 'main', env: [{ name: 'OTHER', value: SECRET }] },
    ]);
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

  it('runs in a container the session allows, named with -c', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    expect(await ssh(mediator, user, ['exec', 'api-0', '-c', 'main', '--', 'echo', 'in-main'])).toEqual({
      code: 0,
      stdout: 'in-main\n',
      stderr: '',
    });
  });

  it.each([
    ['exec -c side', ['exec', 'api-0', '-c', 'side', '--', 'echo', 'x']],
    ['logs -c side', ['logs', 'api-0', '-c', 'side']],
    [
      'exec without -c (the default container is not checked before the call)',
      ['exec', 'api-0', '--', 'echo', 'x'],
    ],
  ])('refuses %s over ssh with SCOPE_CONTAINER, audited', async (_name, command) => {
    const user = sshUser(gateway.sshCa, { scope });
    const before = mediator.audit.events().length;
    const result = await ssh(mediator, user, command);
    expect(result.code).toBe(77);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^airlock: SCOPE_CONTAINER: /);
    expect(deniedWith(mediator.audit.events().slice(before), 'SCOPE_CONTAINER')).toHaveLength(1);
  });

  it('the executor refuses -c side on its own (mediator skipped)', async () => {
    const before = gateway.audit.events().length;
    const ran = await runExec(direct.client, {
      target: { namespace: '', pod: 'api-0', container: 'side' },
      argv: ['echo', 'x'],
    });
    expect(ran.error?.code).toBe('SCOPE_CONTAINER');
    expect(ran.stdout.toString()).toBe('');
    expect(deniedWith(gateway.audit.events().slice(before), 'SCOPE_CONTAINER')).toHaveLength(1);
  });

  it("lists only the session's pods, over ssh and from the executor directly", async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const table = await ssh(mediator, user, ['pods']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('api-0');
    expect(table.stdout).not.toContain('api-1');
    const listed = await ssh(mediator, user, ['get', 'pods', '-o', 'json']);
    expect(
      JSON.parse(listed.stdout).items.map((p: { metadata: { name: string } }) => p.metadata.name),
    ).toEqual(['api-0']);
    expect(listed.stdout).not.toContain(SECRET);
    const raw = await direct.client.list({ kind: 'pods', namespace: '' });
    expect(JSON.parse(raw.json).items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual([
      'api-0',
    ]);
  });

  it('redacts env values in describe and get, over ssh and from the executor directly', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const described = await ssh(mediator, user, ['describe', 'api-0']);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^ {6}DB_PASSWORD: +<redacted>$/m);
    expect(described.stdout).not.toContain(SECRET);
    const got = await ssh(mediator, user, ['get', 'pods', 'api-0', '-o', 'json']);
    expect(JSON.parse(got.stdout).spec.containers[0].env).toEqual([
      { name: 'DB_PASSWORD', value: '<redacted>' },
    ]);
    const raw = await direct.client.get({ kind: 'pods', namespace: '', name: 'api-0' });
    expect(raw.json).not.toContain(SECRET);
  });

  it('shows env values to a profile with revealEnv', async () => {
    const user = sshUser(gateway.sshCa, { scope: { ...scope, profile: 'reveal' } });
    const got = await ssh(mediator, user, ['get', 'pods', 'api-0', '-o', 'json']);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).spec.containers[0].env).toEqual([{ name: 'DB_PASSWORD', value: SECRET }]);
  });

  it('control: a certificate without container patterns may use every container, by default too', async () => {
    const { containerPatterns: _all, ...everyContainer } = scope;
    const user = sshUser(gateway.sshCa, { scope: everyContainer });
    expect((await ssh(mediator, user, ['exec', 'api-0', '-c', 'side', '--', 'echo', 'side'])).stdout).toBe(
      'side\n',
    );
    expect((await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'default'])).stdout).toBe('default\n');
  });
});
