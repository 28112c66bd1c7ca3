import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../../core/audit/index.js';
import { testPolicy } from '../../core/policy/testing.js';
import { createAccessBroker } from '../access-broker.js';
import { inMemoryBrokerDeps, newKeyLine, person, shellRequestFor } from '../in-memory-broker-test-support.js';
import { InMemoryRequestStore } from '../request-store.js';
import { InMemoryTierLauncher } from './tier-launcher.js';
import { createTierLifecycle } from './tier-lifecycle.js';

const sam = person('sam', ['sre']);
const lee = person('lee', ['sre-leads']);

function setup() {
  let now = new Date('2026-11-27T10:00:00Z');
  const clock = () => now;
  const store = new InMemoryRequestStore();
  const audit = new InMemoryAuditTrail('broker', clock);
  const launcher = new InMemoryTierLauncher();
  const policy = testPolicy();
  const tiers = createTierLifecycle({ launcher, store, audit, policy, clock });
  const broker = createAccessBroker(inMemoryBrokerDeps(clock, { policy, store, audit, tiers }));
  const approved = async () => {
    const created = await broker.create(sam, shellRequestFor(newKeyLine('sam')));
    return broker.approve(lee, created.id);
  };
  return {
    store,
    audit,
    launcher,
    tiers,
    broker,
    approved,
    advance: (s: number) => (now = new Date(now.getTime() + s * 1000)),
  };
}

describe('tier lifecycle (in-memory launcher)', () => {
  it("launches on approval with exactly the request's groups and its remaining access", async () => {
    const { launcher, approved, audit } = setup();
    const request = await approved();
    expect(request.launch?.status).toBe('launched');
    expect(launcher.launched.get(request.id)).toMatchObject({ groups: ['jit:shell:payments'] });
    expect(launcher.launched.get(request.id)?.accessExpiresAt.toISOString()).toBe(request.accessExpiresAt);
    const event = audit.events().find((e) => e.event === 'tiers.launched');
    expect([event?.decision, event?.details?.active_deadline_seconds]).toEqual(['allow', 600]);
  });

  it('records a refusal as LAUNCH_FAILED on the request and audits it; the approval stands', async () => {
    const { launcher, approved, store, audit } = setup();
    launcher.refuse = 'pods "x" is forbidden: exceeded quota: no-pods';
    const request = await approved();
    expect(request.status).toBe('approved');
    expect((await store.get(request.id))?.launch).toMatchObject({
      status: 'failed',
      code: 'LAUNCH_FAILED',
      reason: 'pods "x" is forbidden: exceeded quota: no-pods',
    });
    const event = audit.events().find((e) => e.event === 'tiers.launched');
    expect([event?.decision, event?.code]).toEqual(['deny', 'LAUNCH_FAILED']);
  });

  it('deletes on revocation, and the sweep deletes expired and unknown requests but not live ones', async () => {
    const { launcher, approved, broker, tiers, advance } = setup();
    const revoked = await approved();
    await broker.revoke(sam, revoked.id);
    expect(launcher.launched.has(revoked.id)).toBe(false);
    const live = await approved();
    await launcher.launch({
      requestId: 'req-00000000000000000000',
      cluster: 'dev',
      groups: ['g'],
      accessExpiresAt: new Date(),
      approvedAt: new Date(),
      now: new Date(),
    });
    expect(await tiers.sweep()).toEqual(['req-00000000000000000000']);
    advance(601);
    expect(await tiers.sweep()).toEqual([live.id]);
    expect(launcher.launched.size).toBe(0);
  });

  it("replaces a live request's gone executor pod with the access left and audits it; an expired request's objects are deleted instead", async () => {
    const { launcher, approved, tiers, audit, advance } = setup();
    const request = await approved();
    expect(await tiers.sweep()).toEqual([]);
    expect(launcher.restored).toEqual([]);
    advance(100);
    launcher.lose(request.id, 'executor');
    expect(await tiers.sweep()).toEqual([]);
    expect(launcher.restored).toEqual([
      { requestId: request.id, tiers: ['executor'], activeDeadlineSeconds: 500 },
    ]);
    expect(launcher.launched.has(request.id)).toBe(true);
    const replaced = audit
      .events()
      .filter((e) => e.event === 'tiers.launched')
      .at(-1);
    expect([replaced?.decision, replaced?.reason, replaced?.details?.replaced]).toEqual([
      'allow',
      'replaced the executor pod (gone while the request is live)',
      ['executor'],
    ]);
    expect(replaced?.details?.active_deadline_seconds).toBe(500);
    // Once replaced, the next sweep has nothing to do.
    expect(await tiers.sweep()).toEqual([]);
    expect(launcher.restored).toHaveLength(1);
    advance(501);
    launcher.lose(request.id, 'mediator');
    expect(await tiers.sweep()).toEqual([request.id]);
    expect(launcher.restored).toHaveLength(1);
  });

  it('a failing replacement is logged and the sweep goes on', async () => {
    const { launcher, approved, store, audit } = setup();
    const request = await approved();
    const logged: Record<string, unknown>[] = [];
    const tiers = createTierLifecycle({
      launcher: Object.assign(Object.create(launcher) as InMemoryTierLauncher, {
        restore: async () => {
          throw new Error('pods is forbidden');
        },
      }),
      store,
      audit,
      policy: testPolicy(),
      clock: () => new Date('2026-11-27T10:01:00Z'),
      log: (entry) => logged.push(entry),
    });
    expect(await tiers.sweep()).toEqual([]);
    expect(logged.map((e) => e.message)).toEqual([`replacing the pods of ${request.id} failed`]);
  });

  it('replaces nothing for a request whose launch is not recorded yet (a launch in progress)', async () => {
    const { launcher, approved, store, tiers } = setup();
    const request = await approved();
    await store.update(request.id, async (current) =>
      current ? { ...current, launch: undefined } : undefined,
    );
    launcher.lose(request.id, 'executor');
    expect(await tiers.sweep()).toEqual([]);
    expect(launcher.restored).toEqual([]);
  });
});
