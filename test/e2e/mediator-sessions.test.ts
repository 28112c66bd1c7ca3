import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/core/service/free-port.js';
import type { Gateway } from '../support/executor-harness.js';
import { useMediatorFixture } from '../support/mediator-fixture.js';
import { type Mediator, ssh, sshArgs, sshUser } from '../support/mediator-harness.js';
import { waitFor } from '../support/wait.js';

// Shells, ptys, the line-mode prompt, force-command, port forwarding and expiry
// (commands and refusals: mediator.test.ts).
describe('mediator: the stock OpenSSH client through the gateway to the hermetic cluster', () => {
  const fixture = useMediatorFixture();
  const { payments, scope } = fixture;
  let gateway: Gateway;
  let mediator: Mediator;
  beforeAll(() => {
    gateway = fixture.gateway;
    mediator = fixture.mediator;
  });

  it('prints an error at the line-mode prompt before the next prompt', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    // Line mode: no -t. A person types `podz`, reads the answer, then `exit`.
    const child = spawn('ssh', sshArgs(mediator, user), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const prompts = () => [...stdout.matchAll(/left\)> /g)].map((m) => m.index);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let i = 0; i < 100 && prompts().length < 1; i++) await sleep(100);
    child.stdin.write('podz\n');
    for (let i = 0; i < 100 && prompts().length < 2; i++) await sleep(100);
    child.stdin.end('exit\n');
    expect(await exited).toBe(0);
    const error = stdout.indexOf('airlock: USAGE');
    expect(error).toBeGreaterThan(-1);
    expect(stderr).not.toContain('airlock: USAGE');
    const [first, second] = prompts();
    expect(first!).toBeLessThan(error);
    expect(error).toBeLessThan(second!);
  });

  it('runs an interactive shell over a pty', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['shell', 'api-0'], {
      extra: ['-tt'],
      stdin: 'echo $((6*7))\nexit 0\n',
    });
    expect(result.stdout).toContain('42');
    expect(result.code).toBe(0);
  });

  it("ends an airlock command's lines with CR LF on a pty (ssh -t puts the client's terminal in raw mode), LF without one", async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const onPty = await ssh(mediator, user, ['whoami'], { extra: ['-tt'] });
    expect(onPty.code).toBe(0);
    expect(onPty.stdout).toMatch(/\r\nnamespace: +\S+\r\n/);
    expect(onPty.stdout).not.toMatch(/(^|[^\r])\n/);
    const plain = await ssh(mediator, user, ['whoami']);
    expect(plain.stdout).toMatch(/\nnamespace: +\S+\n/);
    expect(plain.stdout).not.toContain('\r');
  });

  it('records the interactive shell as asciicast, referenced from the audit trail by hash', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['shell', 'api-0'], {
      extra: ['-tt'],
      stdin: 'echo recorded-$((1+1))\nexit 0\n',
    });
    expect(result.code).toBe(0);
    const exited = mediator.audit.events().filter((e) => e.event === 'exec.exited' && e.details?.recording);
    expect(exited.length).toBeGreaterThan(0);
    const details = exited.at(-1)!.details as { recording: string; recording_sha256: string };
    const cast = readFileSync(details.recording);
    expect(createHash('sha256').update(cast).digest('hex')).toBe(details.recording_sha256);
    const lines = cast.toString('utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ version: 2 });
    expect(lines.slice(1).some((line) => line.includes('recorded-2'))).toBe(true);
  });

  it('runs the force-command of a certificate instead of what the client asked for', async () => {
    const user = sshUser(gateway.sshCa, {
      scope,
      criticalOptions: { 'force-command': 'whoami --output json' },
    });
    const result = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'not this']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ user: 'alice', namespace: payments });
  });

  it.each([
    [
      'a remote (-R) forward',
      ['-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:22'],
      ['whoami'],
      /remote port forwarding failed/,
    ],
    ['the sftp subsystem', ['-s'], ['sftp'], /subsystem request failed/],
  ])('refuses %s', async (_name, extra, command, message) => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, command, { extra });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it('refuses a shell without permit-pty', async () => {
    const user = sshUser(gateway.sshCa, { scope, extensions: {} });
    const result = await ssh(mediator, user, ['shell', 'api-0']);
    expect(result.code).toBe(77);
    expect(result.stderr).toContain('SHELL_NOT_ALLOWED');
  });

  it('says why a pty is refused (ssh -tt without permit-pty): the reason on stderr, exit 77, audited', async () => {
    const user = sshUser(gateway.sshCa, { scope, extensions: {} });
    const result = await ssh(mediator, user, [], { extra: ['-tt'] });
    expect(result.code).toBe(77);
    expect(result.stdout + result.stderr).toContain(
      'airlock: SHELL_NOT_ALLOWED: this certificate does not permit a pty',
    );
    expect(result.stderr).not.toContain('PTY allocation request failed');
    const denied = mediator.audit
      .events()
      .filter((e) => e.event === 'intent.denied' && e.target.resource === 'pty');
    expect(denied.at(-1)).toMatchObject({ code: 'SHELL_NOT_ALLOWED', decision: 'deny' });
  });

  it('carries an ssh -L connection to the pod port', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    // A port the OS says is free now: a random one could be taken by another test's listener.
    const localPort = await freePort();
    const child = spawn(
      'ssh',
      [...sshArgs(mediator, user, ['-N', '-L', `${localPort}:api-0.${payments}:8080`])],
      { stdio: 'ignore' },
    );
    try {
      let reply = '';
      for (let attempt = 0; attempt < 50 && reply === ''; attempt++) {
        reply = await new Promise<string>((resolve) => {
          const socket = connect(localPort, '127.0.0.1');
          let data = '';
          socket.on('data', (d) => {
            data += d;
            if (data === 'echo:ping') socket.end();
          });
          socket.on('connect', () => socket.write('ping'));
          socket.on('error', () => resolve(''));
          socket.on('close', () => resolve(data));
          setTimeout(() => socket.destroy(), 3000);
        });
        if (reply === '') await sleep(200);
      }
      expect(reply).toBe('echo:ping');
      // The forward went through the same authorize-and-audit path as a command:
      // one `intent.allowed` joined to the session and its trace.
      const allowed = mediator.audit
        .events()
        .filter((e) => e.event === 'intent.allowed' && e.target.resource === 'pods/portforward');
      expect(allowed).toHaveLength(1);
      expect(allowed[0]).toMatchObject({
        decision: 'allow',
        target: { namespace: payments, pod: 'api-0', port: 8080, resource: 'pods/portforward' },
        details: { action: 'port-forward' },
      });
      const opened = mediator.audit
        .events()
        .find((e) => e.event === 'session.opened' && e.session_id === allowed[0]!.session_id);
      expect(opened).toBeDefined();
      expect(allowed[0]!.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(allowed[0]!.trace_id).toBe(opened!.trace_id);
    } finally {
      child.kill();
    }
  });

  it('refuses a port the profile does not allow, and ssh prints the code and reason', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    // A port the OS says is free now: a random one could be taken by another test's listener.
    const localPort = await freePort();
    const child = spawn('ssh', [...sshArgs(mediator, user, ['-N', '-L', `${localPort}:api-0:22`])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    try {
      const deniedRecord = () =>
        mediator.audit.events().find((e) => e.event === 'intent.denied' && e.code === 'PORT_NOT_ALLOWED');
      // Until ssh has set up the forward, the local port refuses; try until the
      // mediator has refused one forwarded connection.
      const replies: string[] = [];
      await waitFor(
        async () => {
          replies.push(await forwardedReply(localPort));
          return deniedRecord() !== undefined;
        },
        20_000,
        250,
      );
      expect(replies.every((reply) => reply === '')).toBe(true);
      const denied = deniedRecord();
      // The refusal joins the session's other records.
      expect(denied?.session_id).toMatch(/\S/);
      expect(denied?.trace_id).toMatch(/^[0-9a-f]{32}$/);
      // OpenSSH prints the channel-open failure's reason and description.
      for (let attempt = 0; attempt < 50 && !stderr.includes('open failed'); attempt++) await sleep(100);
      expect(stderr).toMatch(
        /channel \d+: open failed: administratively prohibited: airlock: PORT_NOT_ALLOWED: \S/,
      );
    } finally {
      child.kill();
    }
  });

  it('ends the session with SESSION_EXPIRED and a non-zero status when the certificate expires', async () => {
    const user = sshUser(gateway.sshCa, { scope, validSeconds: 4 });
    const result = await ssh(mediator, user, ['exec', 'api-0', '--', 'sleep', '30'], { timeoutMs: 20_000 });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('SESSION_EXPIRED');
  });
});

/** What a connection to the forwarded local port reads before it closes. */
function forwardedReply(localPort: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(localPort, '127.0.0.1');
    let data = '';
    socket.on('connect', () => socket.write('ping'));
    socket.on('data', (d) => {
      data += d;
    });
    socket.on('error', () => resolve(data));
    socket.on('close', () => resolve(data));
  });
}
