import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../../core/audit/index.js';
import type { ModerationRule } from '../../core/policy/index.js';
import { createLiveSession, type Joiner, type ModeratorChannel } from './live-session.js';

function channel(): ModeratorChannel & { text: () => string; closed: string[] } {
  let text = '';
  const closed: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    write: (chunk, done) => sink.write(chunk, done),
    close: (message) => closed.push(message),
    text: () => text,
    closed,
  };
}

const joiner = (user: string, groups = ['leads']): Joiner => ({
  user,
  groups,
  address: '127.0.0.1:1',
  requestId: `req-${user}`,
  sessionId: `ses-${user}`,
});

function live(moderation: ModerationRule) {
  const audit = new InMemoryAuditTrail('mediator');
  const notices: string[] = [];
  const ended: string[] = [];
  const session = createLiveSession({
    session: {
      id: 'ses-owner',
      requestId: 'req-owner',
      user: 'alice',
      groups: [],
      scope: { profile: 'shell', cluster: 'dev', namespace: 'payments', podPatterns: ['*'], moderation },
      expiresAtMs: 0,
    },
    moderation,
    audit: (event) => audit.append(event),
    notify: (text) => notices.push(text),
    end: (line) => ended.push(line),
  });
  return { session, audit, notices, ended };
}

const intent = { action: 'exec', target: { pod: 'api-0' }, text: 'exec api-0 -- ps' };
/** Lets pending promise reactions run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createLiveSession: the moderation gate', () => {
  it('observe: an intent waits until a moderator joins, and again once the last one left', async () => {
    const { session, notices } = live({ requiredGroups: ['leads'], min: 1, mode: 'observe' });
    let admitted = false;
    const first = session.admit(intent).then(() => {
      admitted = true;
    });
    await settle();
    expect(admitted).toBe(false);
    expect(notices).toContain('airlock: waiting for a moderator from leads\r\n');
    const marked: string[] = [];
    const unmark = session.onMarker((label) => marked.push(label));
    const id = await session.join(joiner('lea'), channel());
    await first;
    unmark();
    expect(admitted).toBe(true);
    session.leave(id);
    let again = false;
    const second = session.admit(intent).then(() => {
      again = true;
    });
    await settle();
    expect(again).toBe(false);
    await session.join(joiner('max'), channel());
    await second;
    // A recording open while lea joined is marked; once it closed, later joins and leaves are not.
    expect(marked).toEqual(['lea joined as moderator']);
    expect(notices.some((n) => n.includes('lea left (detached)'))).toBe(true);
  });

  it('refuses the owner, a joiner outside requiredGroups and a second join by the same person', async () => {
    const { session } = live({ requiredGroups: ['leads'], min: 1, mode: 'observe' });
    await expect(session.join(joiner('Alice'), channel())).rejects.toMatchObject({
      code: 'SESSION_JOIN_REFUSED',
    });
    await expect(session.join(joiner('bob', ['devs']), channel())).rejects.toMatchObject({
      code: 'SESSION_JOIN_REFUSED',
    });
    await session.join(joiner('lea'), channel());
    await expect(session.join(joiner('LEA'), channel())).rejects.toMatchObject({
      code: 'SESSION_JOIN_REFUSED',
    });
  });

  it('approve-each-command: asks the moderator; n rejects, y approves, both audited with both people', async () => {
    const { session, audit } = live({ requiredGroups: ['leads'], min: 1, mode: 'approve-each-command' });
    const lea = channel();
    const id = await session.join(joiner('lea'), lea);
    const rejected = session.admit(intent);
    await settle();
    expect(lea.text()).toContain('alice wants to run: exec api-0 -- ps  approve? (y/n)');
    expect(session.answer(id, false)).toBe(true);
    await expect(rejected).rejects.toMatchObject({ code: 'MODERATION_REJECTED' });
    const approved = session.admit(intent);
    await settle();
    session.answer(id, true);
    await expect(approved).resolves.toEqual({ approvedBy: 'lea' });
    expect(session.answer(id, true)).toBe(false);
    expect(audit.events().map((e) => [e.event, e.actor.user, e.details?.owner, e.session_id])).toEqual([
      ['moderation.joined', 'lea', 'alice', 'ses-owner'],
      ['moderation.rejected', 'lea', 'alice', 'ses-owner'],
      ['moderation.approved', 'lea', 'alice', 'ses-owner'],
    ]);
  });

  it('terminate: the waiting intent fails with MODERATION_TERMINATED, the owner is ended with who and why', async () => {
    const { session, ended, audit } = live({
      requiredGroups: ['leads'],
      min: 1,
      mode: 'approve-each-command',
    });
    const id = await session.join(joiner('lea'), channel());
    const waiting = session.admit(intent);
    await settle();
    await session.terminate(id, 'wrong pod');
    await expect(waiting).rejects.toMatchObject({
      code: 'MODERATION_TERMINATED',
      message: 'session terminated by lea: wrong pod',
    });
    await expect(session.admit(intent)).rejects.toMatchObject({ code: 'MODERATION_TERMINATED' });
    expect(ended).toEqual(['airlock: MODERATION_TERMINATED: session terminated by lea: wrong pod\r\n']);
    expect(audit.events().at(-1)).toMatchObject({ event: 'moderation.terminated', reason: 'wrong pod' });
  });

  it('an observer watches but does not count toward min, and cannot approve, reject or terminate (OBSERVER_READ_ONLY)', async () => {
    const { session, audit, notices, ended } = live({
      requiredGroups: ['leads'],
      min: 1,
      mode: 'approve-each-command',
    });
    const bob = channel();
    // Not in requiredGroups: an observer's role comes from the broker, not the owner's scope.
    const observer = await session.join({ ...joiner('bob', ['watchers']), observer: true }, bob);
    expect(session.moderators()).toEqual([]);
    expect(session.observers()).toEqual(['bob']);
    expect(notices.some((n) => n.includes('bob joined as observer'))).toBe(true);
    let admitted = false;
    const waiting = session.admit(intent).then((r) => {
      admitted = true;
      return r;
    });
    await settle();
    expect(admitted).toBe(false);
    expect(notices).toContain('airlock: waiting for a moderator from leads\r\n');
    const id = await session.join(joiner('lea'), channel());
    expect(session.watchers()).toEqual([
      { user: 'bob', role: 'observer' },
      { user: 'lea', role: 'moderator' },
    ]);
    await settle();
    expect(bob.text()).toContain('alice wants to run: exec api-0 -- ps  (a moderator decides)');
    expect(bob.text()).not.toContain('approve? (y/n)');
    expect(() => session.answer(observer, true)).toThrow(
      expect.objectContaining({ code: 'OBSERVER_READ_ONLY' }),
    );
    expect(() => session.answer(observer, false)).toThrow(
      expect.objectContaining({ code: 'OBSERVER_READ_ONLY' }),
    );
    await expect(session.terminate(observer, 'no')).rejects.toMatchObject({ code: 'OBSERVER_READ_ONLY' });
    expect(admitted).toBe(false);
    expect(ended).toEqual([]);
    // The question is still the moderator's.
    expect(session.answer(id, true)).toBe(true);
    await expect(waiting).resolves.toEqual({ approvedBy: 'lea' });
    expect(audit.events()[0]).toMatchObject({
      event: 'moderation.joined',
      actor: { user: 'bob', kind: 'observer' },
      details: { role: 'observer' },
    });
    // When the last moderator leaves, an observer alone does not let commands run.
    session.leave(id);
    let again = false;
    void session.admit(intent).then(() => {
      again = true;
    });
    await settle();
    expect(again).toBe(false);
  });
});
