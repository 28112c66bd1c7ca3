import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAirlockScope, parseCertificateLine } from '../../core/ssh-cert/index.js';
import { env, oncallDebugRequest, personIo, useBrokerTestEnv } from './broker-client-test-support.js';
import { runCert } from './cert-command.js';
import { runLogin } from './login.js';
import { runDecision, runRequest, runStatus } from './request-commands.js';

useBrokerTestEnv();

describe('airlock login / request / approve / cert / status against a real broker and OpenID provider', () => {
  it('runs the whole flow: device login, request, approval by a second person, certificate next to the key', async () => {
    const alice = personIo('alice');
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-f',
      join(alice.homeDir, '.ssh', 'id_ed25519'),
    ]);
    expect(await runLogin({ broker: env.url, ca: env.caFile }, alice)).toBe(0);
    expect(alice.stderr.join('')).toContain(`open ${env.provider.issuer}/device and enter the code`);
    expect(alice.stdout.join('')).toContain('logged in as alice (groups: payments-oncall)');
    const tokenFile = join(alice.configDir, 'token.json');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(tokenFile, 'utf8'))).toMatchObject({ broker: env.url, user: 'alice' });

    alice.stdout.length = 0;
    await runRequest(oncallDebugRequest({ ttl: '30m', reason: 'checkout latency' }), alice);
    const created = JSON.parse(alice.stdout.join(''));
    expect(created).toMatchObject({
      status: 'pending',
      requester: { user: 'alice' },
      scope: { profile: 'oncall-debug', cluster: 'prod-eu', namespace: 'payments', ttlSeconds: 1800 },
      approvals: [],
    });
    expect(created.id).toMatch(/^req-[0-9a-f]{20}$/);

    // Before approval the certificate is refused with the broker's code, and the message says what is missing.
    await expect(runCert(created.id, {}, alice)).rejects.toMatchObject({
      code: 'REQUEST_STATE',
      message: `request ${created.id} is pending: needs 1 approval from group payments-leads before ${created.pendingExpiresAt}`,
    });

    const bob = personIo('bob');
    await runLogin({ broker: env.url, ca: env.caFile }, bob);
    bob.stdout.length = 0;
    await runStatus(undefined, { pending: true }, bob);
    expect(bob.stdout.join('')).toContain(created.id);
    await expect(runDecision('approve', created.id, {}, alice)).rejects.toMatchObject({
      code: 'APPROVAL_NOT_ALLOWED',
    });
    bob.stdout.length = 0;
    await runDecision('approve', created.id, { comment: 'ok', output: 'json' }, bob);
    const approved = JSON.parse(bob.stdout.join(''));
    expect(approved).toMatchObject({
      id: created.id,
      status: 'approved',
      approvals: [{ user: 'bob', comment: 'ok' }],
    });
    bob.stdout.length = 0;
    await runStatus(created.id, {}, bob);
    expect(bob.stdout.join('')).toContain(`${created.id}  approved`);
    // Past its access window (30m) the request reads `expired`, in text and JSON.
    const later = { ...bob, now: () => new Date(env.now().getTime() + 1801_000) };
    bob.stdout.length = 0;
    await runStatus(created.id, {}, later);
    expect(bob.stdout.join('')).toContain(`${created.id}  expired`);
    const aliceLater = { ...alice, now: later.now };
    alice.stdout.length = 0;
    await runStatus(undefined, { output: 'json' }, aliceLater);
    expect(JSON.parse(alice.stdout.join(''))).toEqual([
      expect.objectContaining({ id: created.id, status: 'expired' }),
    ]);

    alice.stdout.length = 0;
    alice.stderr.length = 0;
    await runCert(created.id, {}, alice);
    const certPath = join(alice.homeDir, '.ssh', 'id_ed25519-cert.pub');
    const keyPath = join(alice.homeDir, '.ssh', 'id_ed25519');
    expect(alice.stdout.join('')).toBe(`${certPath}\n`);
    expect(alice.stderr.join('')).toContain(
      `connect with: ssh -i ${keyPath} -o CertificateFile=${certPath} alice@GATEWAY\n`,
    );

    alice.stdout.length = 0;
    await runCert(created.id, { output: 'json', sshHost: 'airlock.example.com' }, alice);
    expect(JSON.parse(alice.stdout.join(''))).toEqual({
      requestId: created.id,
      certificatePath: certPath,
      keyId: `airlock:${created.id}:alice`,
      validBefore: expect.any(String),
      sshCommand: `ssh -i ${keyPath} -o CertificateFile=${certPath} alice@airlock.example.com`,
    });
    // --host-ca: the airlock known_hosts and ssh_config (never ~/.ssh/known_hosts or ~/.ssh/config).
    const hostCaPath = join(alice.homeDir, 'airlock_host_ca.pub');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostCaPath.replace(/\.pub$/, '')]);
    alice.stdout.length = 0;
    const hostCa = { hostCa: hostCaPath, sshHost: 'airlock.example.com', hostAlias: 'mediator.airlock' };
    await runCert(created.id, { output: 'json', ...hostCa }, alice);
    const withTrust = JSON.parse(alice.stdout.join(''));
    expect(withTrust.sshCommand).toBe(`ssh -F ${join(alice.configDir, 'ssh_config')} airlock.example.com`);
    const hostCaKey = readFileSync(hostCaPath, 'utf8').split(' ').slice(0, 2).join(' ');
    expect(readFileSync(withTrust.knownHostsPath, 'utf8')).toBe(
      `@cert-authority mediator.airlock ${hostCaKey} airlock-host-ca\n`,
    );
    expect(readFileSync(withTrust.sshConfigPath, 'utf8')).toContain('  HostKeyAlias mediator.airlock\n');
    expect(existsSync(join(alice.homeDir, '.ssh', 'known_hosts'))).toBe(false);
    expect(existsSync(join(alice.homeDir, '.ssh', 'config'))).toBe(false);
    await expect(runCert(created.id, { hostCa: hostCaPath }, alice)).rejects.toMatchObject({ code: 'USAGE' });

    const listing = execFileSync('ssh-keygen', ['-L', '-f', certPath], { encoding: 'utf8' });
    expect(listing).toContain(`Key ID: "airlock:${created.id}:alice"`);
    expect(listing).toMatch(/Principals: \n\s+alice\n/);
    const { certificate } = parseCertificateLine(readFileSync(certPath, 'utf8'));
    expect(certificate.validBefore - certificate.validAfter).toBe(1800n);
    expect(parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev'] ?? '').requestId).toBe(
      created.id,
    );

    // --door: the ssh_config entry through the jump door, one file per request. This broker is
    // standing (it sends no host CA key): without --host-ca the mediator could not be verified.
    const entryPath = join(alice.configDir, 'ssh', `${created.id}.conf`);
    await expect(runCert(created.id, { door: 'door.example.com:2222' }, alice)).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('--door needs one to verify the mediator'),
    });
    expect(existsSync(entryPath)).toBe(false);
    alice.stdout.length = 0;
    await runCert(created.id, { output: 'json', door: 'door.example.com:2222', hostCa: hostCaPath }, alice);
    const doorKnownHosts = join(alice.configDir, 'ssh', `${created.id}.known_hosts`);
    expect(JSON.parse(alice.stdout.join(''))).toMatchObject({
      sshConfigPath: entryPath,
      knownHostsPath: doorKnownHosts,
      sshCommand: `ssh -F ${entryPath} ${created.id}`,
    });
    const entry = readFileSync(entryPath, 'utf8');
    expect(entry).toContain(`Host ${created.id}\n  ProxyJump airlock-door-${created.id}\n  User alice\n`);
    expect(entry).toContain(`  HostName door.example.com\n  Port 2222\n`);
    expect(entry).toContain(
      `  HostKeyAlias ${created.id}\n  UserKnownHostsFile ${doorKnownHosts}\n  StrictHostKeyChecking yes\n`,
    );
    expect(readFileSync(doorKnownHosts, 'utf8')).toBe(
      `@cert-authority ${created.id} ${hostCaKey} airlock-host-ca\n`,
    );
    expect(statSync(entryPath).mode & 0o777).toBe(0o600);

    alice.stdout.length = 0;
    await runStatus(created.id, {}, alice);
    expect(alice.stdout.join('')).toContain(`cert       serial ${certificate.serial}`);

    alice.stdout.length = 0;
    await runStatus(created.id, { output: 'json' }, alice);
    expect(JSON.parse(alice.stdout.join(''))).toMatchObject({
      id: created.id,
      status: 'approved',
      certificate: { serial: String(certificate.serial) },
    });
    alice.stdout.length = 0;
    await runStatus(undefined, { output: 'json' }, alice);
    const mine = JSON.parse(alice.stdout.join(''));
    expect(Array.isArray(mine)).toBe(true);
    expect(mine.map((r: { id: string }) => r.id)).toContain(created.id);
  });

  it('refuses commands without a login, and with an expired cached login', async () => {
    const nobody = personIo('nobody');
    await expect(runStatus(undefined, {}, nobody)).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
    const carol = personIo('carol');
    await runLogin({ broker: env.url, ca: env.caFile }, carol);
    env.advance(7200);
    try {
      await expect(runStatus(undefined, {}, carol)).rejects.toMatchObject({ code: 'AUTH_EXPIRED' });
    } finally {
      env.advance(-7200);
    }
  });
});

describe('airlock request says which auto-approval it missed and why', () => {
  it('names the nearest rules and their failed conditions, as policy explain does', async () => {
    const alice = personIo('alice');
    const key = join(env.dir, 'missed-key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    await runLogin({ broker: env.url, ca: env.caFile }, alice);
    alice.stdout.length = 0;
    const request = {
      key: `${key}.pub`,
      profile: 'oncall-debug',
      cluster: 'prod-eu',
      namespace: 'payments',
      pod: ['payments-api-*'],
      ttl: '30m',
      reason: 'look at the worker backlog',
    };
    await runRequest(request, alice);
    const lines = alice.stdout.join('').split('\n');
    expect(lines).toContain('  decision   needs-approval (profiles.oncall-debug.approval.manual)');
    const missed = lines.findIndex((l) => l.startsWith('  missed'));
    // The runbook rule misses two conditions (not a runbook, TTL over its 900 s): farther.
    expect(lines.slice(missed, missed + 2)).toEqual([
      '  missed     incident: reason does not match /^INC-[0-9]{4,8}\\b/',
      expect.stringMatching(/^ {2}waiting /),
    ]);

    // Over both rules' TTL, each misses two: both are named, each with everything it lacked.
    alice.stdout.length = 0;
    await runRequest({ ...request, ttl: '45m' }, alice);
    expect(alice.stdout.join('')).toContain(
      '  missed     incident: TTL 2700s exceeds 1800s; reason does not match /^INC-[0-9]{4,8}\\b/\n' +
        '             runbook: TTL 2700s exceeds 900s; request is not for a runbook\n  waiting',
    );
  });
});
