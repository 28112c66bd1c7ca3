import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AirlockScope, parseDenyList } from '../../services/core/ssh-cert/index.js';
import type { Gateway } from '../support/executor-harness.js';
import { liveSsh } from '../support/live-ssh.js';
import {
  debugTarget,
  type Mediator,
  type SshUser,
  ssh,
  sshUser,
  startDebugGateway,
} from '../support/mediator-harness.js';

/**
 * Four-eyes sessions (issue 24) with real `ssh` clients: the owner's
 * certificate scope requires one moderator from `leads` approving each
 * command (as the broker signs it for a moderated profile); the moderator's
 * certificate carries the moderator role for the same profile and namespace.
 */
describe('mediator: four-eyes sessions with stock OpenSSH clients', () => {
  const target = debugTarget('mod', 'req-owner');
  let gateway: Gateway;
  let mediator: Mediator;
  let owner: SshUser;
  let moderator: SshUser;
  const pty = { extra: ['-tt'] };

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
    const moderated: AirlockScope = {
      ...target.scope,
      moderation: { requiredGroups: ['leads'], min: 1, mode: 'approve-each-command' },
    };
    owner = sshUser(gateway.sshCa, { principal: 'alice', scope: moderated });
    moderator = sshUser(gateway.sshCa, {
      principal: 'lea',
      scope: { ...target.scope, requestId: 'req-moderator', moderator: { groups: ['leads'] } },
      extensions: { 'permit-pty': '' },
    });
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  /** The id of OWNER's live session, as `ssh gw sessions` lists it to the moderator. */
  async function liveSessionId(owner = 'alice'): Promise<string> {
    const listed = await ssh(mediator, moderator, ['sessions'], { login: 'lea' });
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((line) => line.split(/\s+/)[1] === owner);
    if (!row) throw new Error(`no session of ${owner} listed:\n${listed.stdout}`);
    return row.split(/\s+/)[0]!;
  }

  it('the owner waits for a moderator; a rejected command exits 77 with MODERATION_REJECTED', async () => {
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'rejected-output']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const watcher = liveSsh(mediator, moderator, ['join', id], { ...pty, login: 'lea' });
    await command.waitFor(/lea joined as moderator/);
    await watcher.waitFor(/alice wants to run: exec api-0 -- echo rejected-output {2}approve\? \(y\/n\)/);
    watcher.type('n');
    expect(await command.exited).toBe(77);
    expect(command.output()).toContain('airlock: MODERATION_REJECTED: rejected by moderator lea');
    expect(command.output()).not.toContain('rejected-output\n');
    await watcher.waitFor(/-> denied MODERATION_REJECTED/);
    expect(await watcher.exited).toBe(0);
    const records = mediator.audit.events().filter((e) => e.session_id === id);
    expect(records.map((e) => e.event)).toEqual(
      expect.arrayContaining(['moderation.joined', 'moderation.rejected', 'intent.denied']),
    );
    expect(records.find((e) => e.event === 'moderation.rejected')).toMatchObject({
      actor: { user: 'lea', kind: 'moderator' },
      code: 'MODERATION_REJECTED',
      details: { owner: 'alice', action: 'exec' },
    });
  });

  it('an approved command runs, and the moderator sees its output bytes live', async () => {
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'approved', 'bytes-4711']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const watcher = liveSsh(mediator, moderator, ['join', id], { ...pty, login: 'lea' });
    await watcher.waitFor(/approve\? \(y\/n\)/);
    watcher.type('y');
    expect(await command.exited).toBe(0);
    expect(command.output()).toContain('approved bytes-4711\n');
    await watcher.waitFor(/-> allowed \(approved by lea\)/);
    await watcher.waitFor(/approved bytes-4711/);
    expect(await watcher.exited).toBe(0);
    const allowed = mediator.audit.events().find((e) => e.session_id === id && e.event === 'intent.allowed');
    expect(allowed?.details).toMatchObject({ approved_by: 'lea' });
    // The executor ran it only with the mediator's moderation claim, which its own trail records.
    const executed = gateway.audit
      .events()
      .find((e) => e.session_id === id && e.event === 'intent.allowed' && e.target.resource === 'pods/exec');
    expect(executed?.details).toMatchObject({ moderated_by: ['lea'], approved_by: 'lea' });
  });

  it('a moderator terminates the session: the owner sees who and why and exits 77', async () => {
    const session = liveSsh(mediator, owner, [], pty);
    await session.waitFor(/Type help\./);
    session.type('exec api-0 -- echo never');
    await session.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const watcher = liveSsh(mediator, moderator, ['join', id], { ...pty, login: 'lea' });
    await watcher.waitFor(/approve\? \(y\/n\)/);
    watcher.type('terminate wrong pod, stop');
    await session.waitFor(/MODERATION_TERMINATED: session terminated by lea: wrong pod, stop/);
    expect(await session.exited).toBe(77);
    expect(await watcher.exited).toBe(0);
    expect(
      mediator.audit.events().find((e) => e.session_id === id && e.event === 'moderation.terminated'),
    ).toMatchObject({ actor: { user: 'lea' }, reason: 'wrong pod, stop', details: { owner: 'alice' } });
  });

  it('a joined moderator whose certificate is revoked is cut off (CERT_REVOKED, exit 65)', async () => {
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'y']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const revokedModerator = sshUser(gateway.sshCa, {
      principal: 'max',
      scope: { ...target.scope, requestId: 'req-max', moderator: { groups: ['leads'] } },
      extensions: { 'permit-pty': '' },
    });
    const watcher = liveSsh(mediator, revokedModerator, ['join', id], { ...pty, login: 'max' });
    await watcher.waitFor(/approve\? \(y\/n\)/);
    gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [revokedModerator.serial.toString()] })));
    try {
      await watcher.waitFor(/CERT_REVOKED: your moderator certificate has been revoked/);
      expect(await watcher.exited).toBe(65);
    } finally {
      gateway.revoked.pop();
    }
    command.kill();
    await command.exited;
  });

  it('an observer watches read-only: it does not count toward min, and y, n and terminate are refused with OBSERVER_READ_ONLY', async () => {
    const observer = sshUser(gateway.sshCa, {
      principal: 'obi',
      scope: { ...target.scope, requestId: 'req-obi', moderator: { groups: ['watchers'], role: 'observer' } },
      extensions: { 'permit-pty': '' },
    });
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'watched', 'bytes-0815']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const watching = liveSsh(mediator, observer, ['join', id], { ...pty, login: 'obi' });
    await watching.waitFor(/joined alice's session \S+ \(observer, read-only\); leave/);
    await command.waitFor(/obi joined as observer/);
    // An observer does not count toward min: the owner's command is not even put to a vote yet.
    watching.type('y');
    await watching.waitFor(/OBSERVER_READ_ONLY: an observer cannot approve; observers only watch/);
    expect(command.output()).not.toContain('waiting for a moderator to approve');
    const watcher = liveSsh(mediator, moderator, ['join', id], { ...pty, login: 'lea' });
    await watcher.waitFor(/approve\? \(y\/n\)/);
    // `sessions` names who watches, with their role, in the order they joined.
    const listed = await ssh(mediator, moderator, ['sessions'], { login: 'lea' });
    expect(listed.stdout).toMatch(
      new RegExp(`${id}\\s+alice\\s.*\\s{2}obi \\(observer\\), lea \\(moderator\\)\r\n`),
    );
    await watching.waitFor(
      /alice wants to run: exec api-0 -- echo watched bytes-0815 {2}\(a moderator decides\)/,
    );
    for (const [typed, refusal] of [
      ['n', 'an observer cannot reject'],
      ['terminate stop it', 'an observer cannot terminate'],
    ]) {
      watching.type(typed!);
      await watching.waitFor(new RegExp(`OBSERVER_READ_ONLY: ${refusal}; observers only watch`));
    }
    // Still waiting: only a moderator decides.
    expect(command.output()).not.toContain('bytes-0815');
    watcher.type('y');
    expect(await command.exited).toBe(0);
    await watching.waitFor(/watched bytes-0815/);
    expect(await watching.exited).toBe(0);
    expect(await watcher.exited).toBe(0);
    const executed = gateway.audit
      .events()
      .find((e) => e.session_id === id && e.event === 'intent.allowed' && e.target.resource === 'pods/exec');
    // The executor is told of moderators only.
    expect(executed?.details).toMatchObject({ moderated_by: ['lea'], approved_by: 'lea' });
    expect(
      mediator.audit
        .events()
        .find((e) => e.session_id === id && e.event === 'moderation.joined' && e.actor.user === 'obi'),
    ).toMatchObject({ actor: { kind: 'observer' }, details: { role: 'observer' } });
  });

  it('sessions and join work at the interactive prompt too, with Tab completion; leaving returns to the prompt', async () => {
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'prompt', 'bytes-2024']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const shell = liveSsh(mediator, moderator, [], { ...pty, login: 'lea' });
    await shell.waitFor(/Type help\./);
    // Tab completes sessions, the session id after join, and the join's own words while joined.
    const tab = async (keys: string, completed: string, then = '\n') => {
      const from = shell.output().length;
      shell.send(`${keys}\t`);
      await shell.waitFor(new RegExp(completed.slice(keys.length)), { from });
      shell.send(then);
    };
    await tab('sessi', 'sessions');
    await shell.waitFor(new RegExp(`${id}\\s+alice\\s+`));
    await tab(`join ${id.slice(0, 8)}`, `join ${id}`);
    await shell.waitFor(/joined alice's session \S+ \(approve-each-command\)/);
    await shell.waitFor(/alice wants to run: exec api-0 -- echo prompt bytes-2024 {2}approve\? \(y\/n\)/);
    // Joined: Tab offers the join's words (Ctrl-U then clears the line unsent).
    await tab('ter', 'terminate', '\x15');
    // `leave` while joined detaches: the owner is told, and the next line is a command again.
    await tab('le', 'leave');
    await command.waitFor(/lea left/);
    shell.type('whoami');
    // whoami's output names the moderator certificate's request: the line ran as a command.
    await shell.waitFor(/req-moderator/);
    // Joined again, the pending command is put to this moderator again.
    const from = shell.output().length;
    shell.type(`join ${id}`);
    await shell.waitFor(/approve\? \(y\/n\)/, { from });
    shell.type('y');
    expect(await command.exited).toBe(0);
    await shell.waitFor(/prompt bytes-2024/);
    // The owner's session ended: back at the prompt.
    await shell.waitFor(/airlock: the session ended/);
    shell.type('exit');
    expect(await shell.exited).toBe(0);
    const records = mediator.audit.events().filter((e) => e.session_id === id && e.actor.user === 'lea');
    expect(records.map((e) => e.event)).toEqual(
      expect.arrayContaining(['moderation.joined', 'moderation.approved', 'moderation.left']),
    );
  });

  it('refuses a join by a certificate without the moderator role, and by the owner, with SESSION_JOIN_REFUSED', async () => {
    const command = liveSsh(mediator, owner, ['exec', 'api-0', '--', 'echo', 'x']);
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId();
    const bob = sshUser(gateway.sshCa, { principal: 'bob', scope: target.scope });
    const refused = await ssh(mediator, bob, ['join', id], { login: 'bob' });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toContain(
      'airlock: SESSION_JOIN_REFUSED: this certificate carries no moderator role',
    );
    // alice with a moderator certificate of her own: her session is neither listed nor joinable.
    const self = sshUser(gateway.sshCa, {
      principal: 'alice',
      scope: { ...target.scope, requestId: 'req-self', moderator: { groups: ['leads'] } },
      extensions: { 'permit-pty': '' },
    });
    const listed = await ssh(mediator, self, ['sessions']);
    expect(listed.stdout).not.toContain(id);
    const own = await ssh(mediator, self, ['join', id]);
    expect(own.code).toBe(77);
    expect(own.stderr).toContain('airlock: SESSION_JOIN_REFUSED: you cannot moderate your own session');
    command.kill();
    await command.exited;
  });

  it('a stalled observer is dropped with OBSERVER_DROPPED while the owner gets every byte of its output', async () => {
    const olga = sshUser(gateway.sshCa, {
      principal: 'olga',
      scope: {
        ...target.scope,
        requestId: 'req-olga',
        moderation: { requiredGroups: ['leads'], min: 1, mode: 'observe' },
      },
    });
    // 8 MiB: more than the watcher's SSH window (OpenSSH: 2 MiB), its pipe and the 1 MiB bound together.
    const bytes = 8 * 1024 * 1024;
    const command = liveSsh(
      mediator,
      olga,
      ['exec', 'api-0', '--', 'head', '-c', String(bytes), '/dev/zero'],
      {
        login: 'olga',
      },
    );
    await command.waitFor(/waiting for a moderator from leads/);
    const id = await liveSessionId('olga');
    const stalled = liveSsh(mediator, moderator, ['join', id], { ...pty, login: 'lea', stalled: true });
    try {
      expect(await command.exited).toBe(0);
      const output = command.output();
      expect(output.length - output.replaceAll('\0', '').length).toBe(bytes);
      expect(output).toContain('airlock: lea left (dropped)');
      // What the stalled client held back ends with the reason it was dropped.
      stalled.resume();
      await stalled.waitFor(/airlock: OBSERVER_DROPPED: you fell too far behind the output; join again/);
      expect(await stalled.exited).toBe(69);
    } finally {
      stalled.kill();
    }
    expect(
      mediator.audit.events().find((e) => e.session_id === id && e.event === 'moderation.left'),
    ).toMatchObject({
      actor: { user: 'lea', kind: 'moderator' },
      details: { why: 'dropped', owner: 'olga' },
    });
  });
});
