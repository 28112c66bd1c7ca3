import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  type SshUser,
  ssh,
  sshArgs,
  sshUser,
  startDebugGateway,
} from '../support/mediator-harness.js';

/**
 * A long-lived SSH connection (an OpenSSH ControlMaster, as the soak and
 * people's own configs use) runs every command as a new channel. What the
 * mediator keeps for a channel must go when its command ends, not when the
 * connection closes, or a busy connection grows without bound.
 */
describe('mediator: per-connection state over a long-lived connection', () => {
  const target = debugTarget('mcs', 'req-connection-state');
  let gateway: Gateway;
  let mediator: Mediator;
  let user: SshUser;
  let master: ChildProcess;
  let controlPath: string;

  /** `ssh` through the master's connection; never opens a connection of its own. */
  const overMaster = ['-o', 'ControlMaster=no'];
  const muxed = (command: string[]) =>
    ssh(mediator, user, command, { extra: ['-o', `ControlPath=${controlPath}`, ...overMaster] });

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
    user = sshUser(gateway.sshCa, { scope: target.scope });
    // Unix socket paths are short (108 bytes): a short directory of its own.
    controlPath = join(mkdtempSync(join(tmpdir(), 'mcs-')), 'c');
    master = spawn(
      'ssh',
      sshArgs(mediator, user, ['-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-N']),
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 30_000;
    while (!existsSync(controlPath)) {
      if (master.exitCode !== null || Date.now() > deadline) throw new Error('ssh master did not start');
      await sleep(50);
    }
  });

  afterAll(async () => {
    master?.kill('SIGTERM');
    await mediator?.stop();
    await gateway?.stop();
  });

  it('keeps no channel of a finished command while the connection stays open', async () => {
    // Commands that never read their stdin: ssh2 reports such a channel closed
    // only once its input has been read to the end.
    const round = [
      { command: ['pods'], code: 0 },
      { command: ['whoami'], code: 0 },
      { command: ['help'], code: 0 },
      { command: ['logs', 'api-0', '--tail', '1'], code: 0 },
      { command: ['exec', 'api-0', '--', 'cat', '/var/run/secrets/token'], code: 77 },
      { command: ['no-such-command'], code: 64 },
      { command: ['exec', 'api-0', '--', 'echo', 'hi'], code: 0 },
    ];
    for (let i = 0; i < 3; i++) {
      const results = await Promise.all(round.map(({ command }) => muxed(command)));
      expect(results.map((r) => r.code)).toEqual(round.map((r) => r.code));
      await expect.poll(() => mediator.frontend.runningChannels()).toBe(0);
    }
    // All of it went over the one connection, which is still open.
    const events = mediator.audit.events();
    expect(events.filter((e) => e.event === 'connection.opened')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'connection.closed')).toHaveLength(0);
    expect(master.exitCode).toBeNull();
  });

  it('counts a running command until it ends', async () => {
    const child = spawn(
      'ssh',
      [
        ...sshArgs(mediator, user, ['-o', `ControlPath=${controlPath}`, ...overMaster]),
        'exec',
        'api-0',
        '--',
        'cat',
      ],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await expect.poll(() => mediator.frontend.runningChannels()).toBe(1);
    child.stdin!.end('done\n');
    expect(await exited).toBe(0);
    expect(stdout).toBe('done\n');
    await expect.poll(() => mediator.frontend.runningChannels()).toBe(0);
  });

  it('ends a followed log when its client goes away, with the connection still open', async () => {
    const child = spawn(
      'ssh',
      [
        ...sshArgs(mediator, user, ['-o', `ControlPath=${controlPath}`, ...overMaster]),
        'logs',
        '-f',
        'api-0',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const exited = new Promise((resolve) => child.on('close', resolve));
    await expect.poll(() => mediator.frontend.runningChannels()).toBe(1);
    child.kill('SIGTERM'); // the mux client goes; the master closes its channel
    await exited;
    await expect.poll(() => mediator.frontend.runningChannels(), { timeout: 10_000 }).toBe(0);
    expect(master.exitCode).toBeNull();
  });
});
