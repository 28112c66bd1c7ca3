import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDenyList } from '../../services/core/ssh-cert/index.js';
import {
  InMemoryMediatorResolver,
  type MediatorAddress,
} from '../../services/mediator/door/mediator-resolver.js';
import { doorSshConfig, type RunningDoor, sshWithConfig, startDoor } from '../support/door-harness.js';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  sshUser,
  startDebugGateway,
  startMediator,
} from '../support/mediator-harness.js';

/** Until `ssh -O check` finds the ControlMaster's socket answering. */
async function waitForMaster(config: string, control: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const check = spawnSync('ssh', ['-F', config, '-S', control, '-O', 'check', 'door'], {
      encoding: 'utf8',
    });
    if (check.status === 0) return;
    await sleep(100);
  }
  throw new Error('the ControlMaster connection did not come up');
}

/** A resolver whose request `late` gets its mediator only on its second lookup: it was waited for. */
class LateResolver extends InMemoryMediatorResolver {
  constructor(
    readonly late: string,
    readonly address: () => MediatorAddress,
  ) {
    super();
  }
  override resolve(requestId: string) {
    if (requestId === this.late && this.lookups.get(requestId) === 1) this.set(requestId, this.address());
    return super.resolve(requestId);
  }
}

describe('door: the stock ssh client jumps (ProxyJump) to its own request mediator, and only there', () => {
  const requestA = 'req-a1a1a1';
  const requestB = 'req-b2b2b2';
  const target = debugTarget('door', requestA);
  let gateway: Gateway;
  let mediatorA: Mediator;
  let mediatorB: Mediator;
  let resolver: LateResolver;
  let door: RunningDoor;

  beforeAll(async () => {
    ({ gateway, mediator: mediatorA } = await startDebugGateway(target));
    mediatorB = await startMediator(gateway, target.policy);
    resolver = new LateResolver('req-late00', () => ({ host: '127.0.0.1', port: mediatorA.port }));
    resolver.set(requestA, { host: '127.0.0.1', port: mediatorA.port });
    resolver.set(requestB, { host: '127.0.0.1', port: mediatorB.port });
    door = await startDoor(gateway, target.policy, resolver, { mediatorReadyMs: 1500, mediatorRetryMs: 200 });
  });

  afterAll(async () => {
    await door?.stop();
    await mediatorB?.stop();
    await mediatorA?.stop();
    await gateway?.stop();
  });

  const userFor = (requestId: string, options: { validSeconds?: number; validFromSeconds?: number } = {}) =>
    sshUser(gateway.sshCa, { scope: { ...target.scope, requestId }, ...options });
  const doorRecords = (requestId: string) =>
    door.audit.events().filter((e) => e.event === 'door.connect' && e.request_id === requestId);

  it('runs `ssh -J door req-<id> whoami` end to end on the request mediator, and audits the jump', async () => {
    const user = userFor(requestA);
    const config = doorSshConfig(door, user, { [requestA]: mediatorA, [requestB]: mediatorB });
    const result = await sshWithConfig(config, requestA, ['whoami']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`request:    ${requestA}`);
    const [allowed] = doorRecords(requestA).filter((e) => e.decision === 'allow');
    expect(allowed).toMatchObject({
      actor: { user: 'alice' },
      target: { cluster: target.scope.cluster, namespace: target.payments },
      details: {
        channel: 'direct-tcpip',
        destination: `${requestA}:22`,
        serial: user.serial.toString(),
        mediator: `127.0.0.1:${mediatorA.port}`,
      },
    });
    expect(allowed?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    // The inner session authenticated at the mediator itself, with the same certificate.
    expect(
      mediatorA.audit
        .events()
        .some((e) => e.event === 'auth.accepted' && e.details?.serial === user.serial.toString()),
    ).toBe(true);
  });

  it("refuses A's certificate a jump to request B's mediator (DOOR_DESTINATION_REFUSED), audited", async () => {
    const user = userFor(requestA);
    const config = doorSshConfig(door, user, { [requestA]: mediatorA, [requestB]: mediatorB });
    const mediatorBBefore = mediatorB.audit.events().length;
    const result = await sshWithConfig(config, requestB, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `administratively prohibited: DOOR_DESTINATION_REFUSED: this certificate reaches only the mediator of its own request: ssh -J <door> ${requestA}`,
    );
    expect(doorRecords(requestA).filter((e) => e.decision === 'deny')).toContainEqual(
      expect.objectContaining({
        code: 'DOOR_DESTINATION_REFUSED',
        details: expect.objectContaining({ destination: `${requestB}:22`, serial: user.serial.toString() }),
      }),
    );
    // B's mediator was never asked for, nor reached.
    expect(resolver.lookups.get(requestB)).toBeUndefined();
    expect(mediatorB.audit.events().slice(mediatorBBefore)).toEqual([]);
    // B's own certificate does reach B.
    const userB = userFor(requestB);
    const own = await sshWithConfig(doorSshConfig(door, userB, { [requestB]: mediatorB }), requestB, [
      'whoami',
    ]);
    expect(own.code).toBe(0);
    expect(own.stdout).toContain(`request:    ${requestB}`);
  });

  it('refuses a session channel on the door itself (DOOR_SESSION_REFUSED): no shell, no command', async () => {
    const user = userFor(requestA);
    const config = doorSshConfig(door, user, {});
    const result = await sshWithConfig(config, 'door', ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'administratively prohibited: DOOR_SESSION_REFUSED: the airlock door runs no shell or command',
    );
    expect(doorRecords(requestA)).toContainEqual(
      expect.objectContaining({
        decision: 'deny',
        code: 'DOOR_SESSION_REFUSED',
        details: expect.objectContaining({ channel: 'session' }),
      }),
    );
  });

  it.each([
    ['CERT_EXPIRED', { validFromSeconds: -600, validSeconds: -60 }],
    ['CERT_REVOKED', {}],
  ])('refuses a %s certificate at the door, before any mediator is looked up', async (code, validity) => {
    const requestId = code === 'CERT_EXPIRED' ? 'req-e0e0e0' : 'req-f0f0f0';
    resolver.set(requestId, { host: '127.0.0.1', port: mediatorA.port });
    const user = userFor(requestId, validity);
    if (code === 'CERT_REVOKED')
      gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [user.serial.toString()] })));
    const result = await sshWithConfig(doorSshConfig(door, user, { [requestId]: mediatorA }), requestId, [
      'whoami',
    ]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Permission denied (publickey)');
    expect(door.audit.events()).toContainEqual(
      expect.objectContaining({ event: 'auth.denied', decision: 'deny', code }),
    );
    expect(resolver.lookups.get(requestId)).toBeUndefined();
  });

  it.each(['CERT_REVOKED', 'AUDIT_UNAVAILABLE'])(
    'refuses a jump with %s on a connection that authenticated before it (ControlMaster)',
    async (code) => {
      const requestId = code === 'CERT_REVOKED' ? 'req-d0d0d1' : 'req-d0d0d2';
      resolver.set(requestId, { host: '127.0.0.1', port: mediatorA.port });
      // A trail that breaks would refuse every later login: that case gets a door of its own.
      const atDoor = code === 'CERT_REVOKED' ? door : await startDoor(gateway, target.policy, resolver);
      const user = userFor(requestId);
      const config = doorSshConfig(atDoor, user, { [requestId]: mediatorA });
      const control = join(mkdtempSync(join(tmpdir(), 'airlock-door-mux-')), 'ctl');
      // The master connection authenticates at the door and opens no channel.
      const master = spawn('ssh', ['-F', config, '-M', '-S', control, '-N', 'door'], { stdio: 'ignore' });
      try {
        await waitForMaster(config, control);
        if (code === 'CERT_REVOKED')
          gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [user.serial.toString()] })));
        else atDoor.audit.breakWith('disk gone');
        const jump = await sshWithConfig(config, 'door', [], 30_000, [
          '-S',
          control,
          '-W',
          `${requestId}:22`,
        ]);
        expect(jump.code).toBe(255);
        expect(jump.stdout).toBe('');
        if (code === 'CERT_REVOKED') {
          // Re-admitted at the channel open: refused before any mediator is looked up.
          expect(resolver.lookups.get(requestId)).toBeUndefined();
          expect(doorRecords(requestId)).toContainEqual(
            expect.objectContaining({ decision: 'deny', code: 'CERT_REVOKED' }),
          );
        } else {
          // No allowed record could be written, so no channel: nothing of it reached the trail.
          expect(
            atDoor.audit.events().filter((e) => e.event === 'door.connect' && e.decision === 'allow'),
          ).toEqual([]);
        }
      } finally {
        master.kill('SIGTERM');
        if (atDoor !== door) await atDoor.stop();
      }
    },
  );

  it('waits for a mediator that is not ready, then refuses with MEDIATOR_NOT_READY', async () => {
    const requestId = 'req-c3c3c3';
    const user = userFor(requestId);
    const result = await sshWithConfig(doorSshConfig(door, user, {}), requestId, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain(
      `connect failed: MEDIATOR_NOT_READY: the mediator of request ${requestId} is not ready after 1.5s: it has no Service (just approved: try again shortly; else see airlock status ${requestId}: launch failed, revoked or expired)`,
    );
    // It looked again while it waited, not once.
    expect(resolver.lookups.get(requestId)).toBeGreaterThan(1);
    expect(doorRecords(requestId)).toContainEqual(
      expect.objectContaining({ decision: 'deny', code: 'MEDIATOR_NOT_READY' }),
    );
  });

  it('connects once a mediator that was not ready at the first look becomes ready within the bound', async () => {
    const user = userFor('req-late00');
    const result = await sshWithConfig(doorSshConfig(door, user, { 'req-late00': mediatorA }), 'req-late00', [
      'whoami',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(resolver.lookups.get('req-late00')).toBe(2);
  });
});
