import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchNames } from '../../services/broker/launcher/launch-names.js';
import { type DoorAccess, requestThroughDoor } from '../../services/cli/dev/pods/door-access.js';
import {
  type EphemeralPodsStack,
  startEphemeralPodsStack,
} from '../../services/cli/dev/pods/ephemeral-pods-stack.js';
import { verifyAuditTrail } from '../../services/core/audit/verify.js';
import {
  executorCallAs,
  followLogs,
  kubectlOf,
  NS,
  objectsOf,
  podsOf,
  secondsToReady,
  storedTrails,
  subjectMay,
  trailOf,
  until,
} from './ephemeral-support.js';
import { run } from './pods-support.js';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
const log = (line: string) => process.stderr.write(`[ephemeral] ${line}\n`);

/**
 * Ephemeral mode as real pods (deploy/overlays/dev-ephemeral on the
 * hermetic cluster's real node): two people, two requests, two namespaces;
 * the broker pod launches a mediator and an executor pod per request; each
 * person uses stock OpenSSH through the jump door (ProxyJump, via a loopback
 * relay to the door Service). One request is revoked, the other expires.
 */
describe('ephemeral mode as real pods (deploy/overlays/dev-ephemeral)', () => {
  let stack: EphemeralPodsStack;
  let stateDir: string;
  let a: DoorAccess;
  let b: DoorAccess;
  const ssh = (access: DoorAccess, ...args: string[]) =>
    run('ssh', ['-F', access.sshConfig, access.requestId, ...args], process.env, 60_000);
  const verified = (trail: string, tier: string) =>
    verifyAuditTrail(trail, {
      publicKeys: [createPublicKey(readFileSync(join(stack.keysDir, `${tier}-audit.pub`)))],
    });

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'airlock-ephemeral-'));
    stack = await startEphemeralPodsStack(stateDir, (line) => log(line), { auditStore: true });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Retries the first command until the request's pods serve it; logs approval → ssh-ready. */
  async function firstSession(access: DoorAccess, who: string): Promise<void> {
    const attempts: string[] = [];
    let ok = false;
    while (!ok && Date.now() - access.approvedAt < 180_000) {
      const first = await ssh(access, 'pods', '-o', 'json');
      attempts.push(
        `${first.code}/${first.ms}ms${first.code === 0 ? '' : ` ${first.stderr.trim().slice(-160)}`}`,
      );
      ok = first.code === 0;
    }
    const pods = await podsOf(stack, access.requestId);
    log(
      `${who} ${access.requestId}: request → approved and launched ${access.approvedAt - access.requestedAt} ms; ` +
        `approved → first ssh command done ${Date.now() - access.approvedAt} ms; attempts: ${attempts.join(' | ')}; ` +
        `pod creation → Ready: ${pods.map((p) => `${p.metadata.labels?.['airlock.dev/tier']} ${secondsToReady(p)} s`).join(', ')}`,
    );
    expect(ok).toBe(true);
  }

  it('two people, two requests, two namespaces: two pod pairs, and each session works through the door', async () => {
    a = await requestThroughDoor(
      stack,
      { name: 'oncall', keyPath: stack.users.oncall!.keyPath },
      {
        profile: 'oncall-debug',
        namespace: 'payments',
        pods: ['payments-*'],
        ttl: '10m',
      },
    );
    b = await requestThroughDoor(
      stack,
      { name: 'biller', keyPath: stack.users.biller!.keyPath },
      {
        profile: 'billing-debug',
        namespace: 'billing',
        pods: ['billing-*'],
        ttl: '5m',
      },
    );
    await firstSession(a, 'oncall');
    await firstSession(b, 'biller');

    for (const [access, namespace, pods] of [
      [a, 'payments', ['payments-api-0', 'payments-worker-0']],
      [b, 'billing', ['billing-api-0']],
    ] as const) {
      const listed = await ssh(access, 'pods', '-o', 'json');
      expect(listed.stderr).toBe('');
      const names = (JSON.parse(listed.stdout) as { items: { metadata: { name: string } }[] }).items
        .map((p) => p.metadata.name)
        .sort();
      expect(names).toEqual(pods);
      const exec = await ssh(access, 'exec', `${namespace}/${pods[0]}`, '--', 'ls', '-la', '/app');
      expect(exec.stderr).toBe('');
      expect(exec.code).toBe(0);
      expect(exec.stdout).toContain('node_modules');
      // Its own pair: a mediator and an executor pod, each with its own ServiceAccount, the deadline set.
      const pair = await podsOf(stack, access.requestId);
      const names2 = launchNames(access.requestId);
      expect(pair.map((p) => [p.metadata.name, p.spec.serviceAccountName]).sort()).toEqual(
        [
          [names2.tier.executor, names2.tier.executor],
          [names2.tier.mediator, names2.tier.mediator],
        ].sort(),
      );
      for (const pod of pair) expect(pod.spec.activeDeadlineSeconds).toBeGreaterThan(60);
    }
    // A's scope stays A's: billing is out of it.
    const outOfScope = await ssh(a, 'exec', 'billing/billing-api-0', '--', 'ls', '-la', '/app');
    expect(outOfScope.code).toBe(77);
    expect(outOfScope.stderr).toContain('SCOPE_NAMESPACE');
  });

  it("A's certificate through the door cannot reach B's mediator", async () => {
    const doorOfA = `airlock-door-${a.requestId}`;
    const jumped = await run(
      'ssh',
      ['-F', a.sshConfig, '-J', doorOfA, b.requestId, 'pods'],
      process.env,
      60_000,
    );
    log(`A's certificate, destination B: exit ${jumped.code}: ${jumped.stderr.trim()}`);
    expect(jumped.code).toBe(255);
    expect(jumped.stderr).toContain('DOOR_DESTINATION_REFUSED');
    // A's key and certificate carried through B's door hop (B's entry, B's identity at the door):
    // B's mediator is pinned to B's request and refuses A's certificate at login.
    const entry = readFileSync(b.entryPath, 'utf8');
    const at = entry.indexOf(`Host ${b.requestId}\n`);
    const carried = join(stateDir, 'a-certificate-through-b-door.conf');
    writeFileSync(
      carried,
      [
        entry.slice(0, at),
        entry
          .slice(at)
          .replaceAll(stack.users.biller!.keyPath, stack.users.oncall!.keyPath)
          .replace('  User biller', '  User oncall'),
        'Host airlock-door-*',
        `  UserKnownHostsFile ${stack.doorKnownHostsPath}`,
        '  StrictHostKeyChecking yes',
        'Host *',
        '  BatchMode yes',
        '',
      ].join('\n'),
    );
    const swapped = await run('ssh', ['-F', carried, b.requestId, 'pods'], process.env, 60_000);
    log(`A's certificate through B's door hop: exit ${swapped.code}: ${swapped.stderr.trim()}`);
    expect(swapped.code).toBe(255);
    expect(swapped.stderr).toContain('CERT_REQUEST_MISMATCH');
  });

  it("A's executor ServiceAccount is refused for B's groups (SubjectAccessReview, and a real call from its pod); the mediator pod has no token", async () => {
    const [na, nb] = [launchNames(a.requestId), launchNames(b.requestId)];
    const groupA = 'jit:oncall:payments';
    const groupB = 'jit:billing-debug:billing';
    const impersonate = (name: string) => ({ verb: 'impersonate', resource: 'groups', group: '', name });
    expect(await subjectMay(stack, na.tier.executor, impersonate(groupA))).toBe(true);
    expect(await subjectMay(stack, na.tier.executor, impersonate(groupB))).toBe(false);
    expect(await subjectMay(stack, nb.tier.executor, impersonate(groupB))).toBe(true);
    expect(await subjectMay(stack, nb.tier.executor, impersonate(groupA))).toBe(false);
    expect(await subjectMay(stack, na.tier.mediator, impersonate(groupA))).toBe(false);

    const own = await executorCallAs(stack, a.requestId, '/api/v1/namespaces/payments/pods', groupA);
    const other = await executorCallAs(stack, a.requestId, '/api/v1/namespaces/billing/pods', groupB);
    log(`from A's executor pod, its bound token: as A's group ${own}, as B's group ${other}`);
    expect(own).toBe('200');
    expect(other).toBe('403');

    const token = await kubectlOf(stack)(
      'exec',
      '-n',
      NS,
      na.tier.mediator,
      '--',
      'ls',
      '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    expect(token.code).not.toBe(0);
  });

  it("A's executor pod dies mid-session: the session ends with EXECUTOR_UNAVAILABLE; the broker's sweep replaces the pod from the request's objects and a new connection works", async () => {
    const na = launchNames(a.requestId);
    const kubectl = kubectlOf(stack);
    const before = (await podsOf(stack, a.requestId)).find((p) => p.metadata.name === na.tier.executor);
    const follow = await followLogs(a.sshConfig, a.requestId, 'payments-worker-0');
    const killedAt = Date.now();
    const killed = await kubectl('delete', 'pod', '-n', NS, na.tier.executor, '--grace-period=0', '--force');
    expect(killed.code).toBe(0);
    const ended = await Promise.race([
      follow.closed,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000)),
    ]);
    follow.kill();
    log(
      `executor pod of A force-deleted: session ended after ${ended ? ended.at - killedAt : -1} ms, exit ${ended?.code}: ${ended?.stderr.trim()}`,
    );
    expect(ended?.code).toBe(69);
    expect(ended?.stderr.trim()).toBe('airlock: EXECUTOR_UNAVAILABLE: the executor is unavailable');
    const attempts: string[] = [];
    const readyMs = await until(
      async () => {
        const next = await ssh(a, 'pods', '-o', 'json');
        if (next.code !== 0) attempts.push(`${next.code} ${next.stderr.trim().replaceAll('\n', ' / ')}`);
        return next.code === 0;
      },
      180_000,
      1_000,
    );
    log(
      `new connection served ${readyMs} ms after the session ended; failed attempts before: ${attempts.join(' | ') || 'none'}`,
    );
    expect(readyMs).toBeGreaterThanOrEqual(0);
    for (const attempt of attempts)
      expect(attempt).toMatch(
        /^69 \{"code":"EXECUTOR_UNAVAILABLE","message":"the executor is unavailable"\}$|^255 .*MEDIATOR_NOT_READY: /,
      );
    const after = (await podsOf(stack, a.requestId)).find((p) => p.metadata.name === na.tier.executor);
    expect(after?.metadata.uid).not.toBe(before?.metadata.uid);
    expect(after?.spec.activeDeadlineSeconds).toBeLessThan(before?.spec.activeDeadlineSeconds ?? 0);
    const broker = await trailOf(stack, 'deploy/airlock-broker', 'broker');
    const replaced = broker.stdout
      .split('\n')
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as { event?: string; request_id?: string; details?: { replaced?: string[] } },
      )
      .filter((r) => r.event === 'tiers.launched' && r.request_id === a.requestId && r.details?.replaced);
    expect(replaced.map((r) => r.details?.replaced)).toEqual([['executor']]);
  });

  it("revoking A: an open session is cut, every object of A is deleted, B keeps serving; A's trails verify while its pods run", async () => {
    const na = launchNames(a.requestId);
    // The per-request trails live on the pods' own volume: read and verify them before the pods go.
    for (const tier of ['mediator', 'executor'] as const) {
      const trail = await trailOf(stack, `pod/${na.tier[tier]}`, tier);
      expect(trail.code).toBe(0);
      const result = verified(trail.stdout, tier);
      expect(result.records).toBeGreaterThan(0);
      expect(result.problems.filter((p) => p.kind !== 'unsigned-tail')).toEqual([]);
    }
    const follow = await followLogs(a.sshConfig, a.requestId, 'payments-worker-0');
    const closed = follow.closed.then((c) => c.at);
    const revokedAt = Date.now();
    const revoked = await run(
      process.execPath,
      [airlock, 'revoke', a.requestId, '--broker', stack.brokerUrl, '--ca', stack.brokerCaPath],
      { ...process.env, AIRLOCK_CONFIG_DIR: a.configDir },
    );
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    const goneMs = await until(async () => (await objectsOf(stack, a.requestId)).length === 0, 120_000);
    const cutMs =
      (await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 30_000))])) - revokedAt;
    follow.kill();
    log(`revocation of A: open session cut after ${cutMs} ms; every object gone after ${goneMs} ms`);
    expect(goneMs).toBeGreaterThanOrEqual(0);
    expect(cutMs).toBeGreaterThanOrEqual(0);
    const again = await ssh(a, 'pods');
    expect(again.code).not.toBe(0);
    // Until the revocation list reaches the door: no Service, said so (or, once it has, CERT_REVOKED).
    expect(again.stderr).toMatch(/MEDIATOR_NOT_READY: .* it has no Service .*revoked|CERT_REVOKED/);
    const stillB = await ssh(b, 'pods', '-o', 'json');
    expect(stillB.code).toBe(0);
    log(
      `after A's revocation: A gets exit ${again.code} (${again.stderr.trim().slice(-200)}); B still served`,
    );
  });

  it("broker down: B keeps serving and the kubelet stops B's pods at its deadline without it; back up, the broker's sweep deletes every object; the broker and door trails record both", async () => {
    const kubectl = kubectlOf(stack);
    const brokerPods = async () =>
      (
        await kubectl('get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/name=airlock-broker', '-o', 'name')
      ).stdout.trim();
    expect((await kubectl('scale', '-n', NS, 'deployment/airlock-broker', '--replicas=0')).code).toBe(0);
    expect(await until(async () => (await brokerPods()) === '', 120_000)).toBeGreaterThanOrEqual(0);
    const served = await ssh(b, 'pods', '-o', 'json');
    expect(served.stderr).toBe('');
    expect(served.code).toBe(0);
    const expiresAt = Date.parse(b.accessExpiresAt);
    log(
      `broker down, B still served; waiting for B's expiry at ${b.accessExpiresAt} (${Math.round((expiresAt - Date.now()) / 1000)} s)`,
    );
    let lastSeen = '';
    const stoppedMs = await until(
      async () => {
        const pods = await podsOf(stack, b.requestId);
        lastSeen = pods
          .map((p) => `${p.metadata.labels?.['airlock.dev/tier']} ${p.status.phase}/${p.status.reason ?? ''}`)
          .sort()
          .join(', ');
        return pods.every((p) => p.status.phase !== 'Running');
      },
      expiresAt - Date.now() + 120_000,
      1_000,
    );
    const stoppedAt = Date.now();
    expect(stoppedMs).toBeGreaterThanOrEqual(0);
    // The kubelet did it (activeDeadlineSeconds), not the broker: it is down.
    expect(lastSeen).toBe('executor Failed/DeadlineExceeded, mediator Failed/DeadlineExceeded');
    expect((await kubectl('scale', '-n', NS, 'deployment/airlock-broker', '--replicas=1')).code).toBe(0);
    const upAt = Date.now();
    const goneMs = await until(
      async () => (await objectsOf(stack, b.requestId)).length === 0,
      180_000,
      1_000,
    );
    const goneAt = Date.now();
    log(
      `expiry of B with the broker down: pods ${lastSeen} ${stoppedAt - expiresAt} ms after the access ended; ` +
        `broker scaled up again, every object gone ${goneAt - upAt} ms later (its start-up sweep)`,
    );
    expect(goneMs).toBeGreaterThanOrEqual(0);
    expect(
      await until(
        async () =>
          (
            await kubectl(
              'get',
              'deployment',
              '-n',
              NS,
              'airlock-broker',
              '-o',
              'jsonpath={.status.availableReplicas}',
            )
          ).stdout.trim() === '1',
        180_000,
      ),
    ).toBeGreaterThanOrEqual(0);
    expect((await ssh(b, 'pods')).code).not.toBe(0);

    const broker = await trailOf(stack, 'deploy/airlock-broker', 'broker');
    const result = verified(broker.stdout, 'broker');
    expect(result.problems.filter((p) => p.kind !== 'unsigned-tail')).toEqual([]);
    const records = broker.stdout
      .split('\n')
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as { event?: string; request_id?: string; decision?: string; reason?: string },
      );
    for (const id of [a.requestId, b.requestId]) {
      expect(
        records.some((r) => r.event === 'tiers.launched' && r.request_id === id && r.decision === 'allow'),
      ).toBe(true);
      expect(records.some((r) => r.event === 'tiers.deleted' && r.request_id === id)).toBe(true);
    }
    const door = await trailOf(stack, 'deploy/airlock-door', 'door');
    expect(verified(door.stdout, 'door').problems.filter((p) => p.kind !== 'unsigned-tail')).toEqual([]);
    expect(door.stdout).toContain('DOOR_DESTINATION_REFUSED');
  });

  it('the trails of both pairs verify from the audit store after their pods are deleted (the dead executor and its replacement each their own)', async () => {
    const out = join(stateDir, 'collected');
    for (const [access, replaced] of [
      [a, true],
      [b, false],
    ] as const) {
      for (const tier of ['mediator', 'executor'] as const) {
        const pod = launchNames(access.requestId).tier[tier];
        const { collect, trails } = await storedTrails(stack, out, pod, tier);
        expect(collect.code).toBe(0);
        const results = trails.map((t) => ({ origin: t.origin, result: verified(t.text, tier) }));
        log(
          `${pod}: ${results.map((r) => `${r.origin}: ${r.result.records} records, ${JSON.stringify(r.result.problems.map((p) => p.kind))}`).join(' | ')}`,
        );
        expect(trails).toHaveLength(tier === 'executor' && replaced ? 2 : 1);
        for (const { origin, result } of results) {
          expect([origin, result.records > 0]).toEqual([origin, true]);
          expect([origin, result.problems.filter((p) => p.kind !== 'unsigned-tail')]).toEqual([origin, []]);
        }
      }
    }
  });
}, 1_200_000);
