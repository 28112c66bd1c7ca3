import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AirlockScope } from '../../services/core/ssh-cert/index.js';
import { type Gateway, newSession, type TestSession } from '../support/executor-harness.js';
import { debugTarget, startDebugGateway } from '../support/mediator-harness.js';
import { runExec } from './support/adversarial.js';

/**
 * Four-eyes sessions (issue 24) with the mediator skipped: what a client
 * holding a valid session grant (a compromised or modified mediator) can do
 * with a moderated certificate or a moderator certificate at the executor.
 */
describe('adversarial: issue 24: the executor enforces moderation on its own', () => {
  const target = debugTarget('modx', 'req-owner');
  let gateway: Gateway;
  let stop: () => Promise<void>;
  let owner: TestSession;
  let moderator: TestSession;
  const pod = { target: { namespace: '', pod: 'api-0', container: '' } };

  beforeAll(async () => {
    const started = await startDebugGateway(target);
    gateway = started.gateway;
    stop = async () => {
      await started.mediator.stop();
      await started.gateway.stop();
    };
    const moderated: AirlockScope = {
      ...target.scope,
      moderation: { requiredGroups: ['leads'], min: 1, mode: 'approve-each-command' },
    };
    owner = await newSession(gateway, { scope: moderated });
    await owner.client.openSession(owner.request);
    moderator = await newSession(gateway, {
      principal: 'lea',
      scope: { ...target.scope, requestId: 'req-moderator', moderator: { groups: ['leads'] } },
    });
    await moderator.client.openSession(moderator.request);
  });

  afterAll(async () => {
    owner?.client.close();
    moderator?.client.close();
    await stop?.();
  });

  it('refuses an intent of a moderated scope without a moderation claim, or with the owner as moderator (MODERATION_UNAPPROVED, audited)', async () => {
    const before = gateway.audit.events().length;
    const bare = await runExec(owner.client, { ...pod, argv: ['echo', 'unmoderated'] });
    expect(bare.error?.code).toBe('MODERATION_UNAPPROVED');
    expect(bare.stdout.toString()).toBe('');
    const self = await runExec(owner.client, { ...pod, argv: ['echo', 'self'] }, undefined, {
      moderation: () => ({ moderators: ['alice'], approvedBy: 'alice' }),
    });
    expect(self.error?.code).toBe('MODERATION_UNAPPROVED');
    const unapproved = await runExec(owner.client, { ...pod, argv: ['echo', 'watched'] }, undefined, {
      moderation: () => ({ moderators: ['lea'] }),
    });
    expect(unapproved.error?.code).toBe('MODERATION_UNAPPROVED');
    await expect(owner.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: 'MODERATION_UNAPPROVED',
    });
    const denied = gateway.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'intent.denied' && e.code === 'MODERATION_UNAPPROVED');
    expect(denied).toHaveLength(4);
  });

  it('runs it with a claim naming an approving moderator, and records the claim (its limit: the claim is the mediator word)', async () => {
    const ran = await runExec(owner.client, { ...pod, argv: ['echo', 'approved'] }, undefined, {
      moderation: () => ({ moderators: ['lea'], approvedBy: 'lea' }),
    });
    expect(ran.error).toBeUndefined();
    expect(ran.stdout.toString()).toBe('approved\n');
    const allowed = gateway.audit
      .events()
      .filter((e) => e.event === 'intent.allowed' && e.target.argv?.[1] === 'approved');
    expect(allowed[0]?.details).toMatchObject({ moderated_by: ['lea'], approved_by: 'lea' });
  });

  it('a moderator certificate acts on nothing, even inside the profile it moderates (MODERATOR_ONLY)', async () => {
    const ran = await runExec(moderator.client, { ...pod, argv: ['echo', 'moderator'] });
    expect(ran.error?.code).toBe('MODERATOR_ONLY');
    await expect(moderator.client.list({ kind: 'pods', namespace: '' })).rejects.toMatchObject({
      code: 'MODERATOR_ONLY',
    });
  });

  it('an observer certificate acts on nothing either (MODERATOR_ONLY at the executor)', async () => {
    const observer = await newSession(gateway, {
      principal: 'obi',
      scope: { ...target.scope, requestId: 'req-obi', moderator: { groups: ['watchers'], role: 'observer' } },
    });
    await observer.client.openSession(observer.request);
    try {
      const ran = await runExec(observer.client, { ...pod, argv: ['echo', 'observer'] });
      expect(ran.error).toMatchObject({
        code: 'MODERATOR_ONLY',
        message: expect.stringContaining('an observer certificate may only join and watch sessions'),
      });
    } finally {
      observer.client.close();
    }
  });

  it('counts each moderator of a claim: two satisfy min 2, and one name with a comma still counts once', async () => {
    const watched = await newSession(gateway, {
      principal: 'olga',
      scope: {
        ...target.scope,
        requestId: 'req-olga',
        moderation: { requiredGroups: ['leads'], min: 2, mode: 'observe' },
      },
    });
    await watched.client.openSession(watched.request);
    try {
      // One name that reads like two when repeated headers are joined by ', '.
      const oneName = await runExec(watched.client, { ...pod, argv: ['echo', 'one'] }, undefined, {
        moderation: () => ({ moderators: ['lea, max'] }),
      });
      expect(oneName.error?.code).toBe('MODERATION_UNAPPROVED');
      const two = await runExec(watched.client, { ...pod, argv: ['echo', 'two', 'moderators'] }, undefined, {
        moderation: () => ({ moderators: ['lea', 'max'] }),
      });
      expect(two.error).toBeUndefined();
      expect(two.stdout.toString()).toBe('two moderators\n');
      const allowed = gateway.audit
        .events()
        .find((e) => e.event === 'intent.allowed' && e.target.argv?.join(' ') === 'echo two moderators');
      expect(allowed?.details).toMatchObject({ moderated_by: ['lea', 'max'] });
    } finally {
      watched.client.close();
    }
  });
});
