/**
 * End-to-end interop with the real OpenSSH server: sshd trusts an airlock-made
 * CA (TrustedUserCAKeys) and the stock `ssh` client logs in with an
 * airlock-signed certificate (`-o CertificateFile=`).
 *
 * Needs /usr/sbin/sshd and /usr/bin/ssh (Debian: `apt-get install -y
 * openssh-server openssh-client`; `.ci/run` installs them). Without them the
 * tests fail, naming the package: a skip would let a machine without sshd
 * pass without ever checking interop. sshd listens on 127.0.0.1 on a random
 * free port and runs in the foreground as a child of the test.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { freePort } from '../../core/service/free-port.js';
import { signUserCertificate } from './cert-signer.js';
import { formatOpenSshPrivateKey, generateCaKey } from './private-key.js';
import { formatPublicKeyLine, parsePublicKeyLine } from './public-key.js';

const SSHD = '/usr/sbin/sshd';
const SSH = '/usr/bin/ssh';
const missing = [SSHD, SSH].filter((path) => !existsSync(path));

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd exited early:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}:\n${log()}`);
}

describe('sshd accepts airlock certificates', () => {
  let ws: KeygenWorkspace;
  let sshd: ChildProcess;
  let port: number;
  let sshdLog = '';
  const login = userInfo().username;
  const ca = generateCaKey('ed25519', 'airlock-test-ca');

  beforeAll(async () => {
    if (missing.length > 0) {
      throw new Error(
        `${missing.join(' and ')} not installed: apt-get install -y openssh-server openssh-client`,
      );
    }
    ws = new KeygenWorkspace();
    // Normally made by systemd (RuntimeDirectory=sshd); sshd refuses to start without it.
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ws.path('host_key')]);
    writeFileSync(ws.path('trusted_user_ca_keys'), `${formatPublicKeyLine(ca.publicKey, 'airlock')}\n`);
    writeFileSync(ws.path('ca_key'), formatOpenSshPrivateKey(ca.privateKey), { mode: 0o600 });
    port = await freePort();
    const config = [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${ws.path('host_key')}`,
      `PidFile ${ws.path('sshd.pid')}`,
      `TrustedUserCAKeys ${ws.path('trusted_user_ca_keys')}`,
      'AuthorizedKeysFile none',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'LogLevel DEBUG1',
    ];
    writeFileSync(ws.path('sshd_config'), `${config.join('\n')}\n`);
    sshd = spawn(SSHD, ['-D', '-e', '-f', ws.path('sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] });
    sshd.stderr?.on('data', (chunk) => {
      sshdLog += String(chunk);
    });
    await waitForPort(port, sshd, () => sshdLog);
  }, 30_000);

  afterAll(() => {
    sshd?.kill('SIGTERM');
    ws?.cleanup();
  });

  /** sshd's stderr arrives asynchronously (spawnSync blocks the event loop), so poll briefly. */
  async function sshdLogged(text: string): Promise<boolean> {
    for (let i = 0; i < 40 && !sshdLog.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
    return sshdLog.includes(text);
  }

  function sshWith(principals: string[], extra: Record<string, string> = {}) {
    const user = ws.makeKey('ecdsa-256');
    const signed = signUserCertificate({
      caPrivateKey: ca,
      publicKey: parsePublicKeyLine(user.publicLine).key,
      keyId: 'sshd-interop',
      principals,
      validAfter: new Date(Date.now() - 60_000),
      validBefore: new Date(Date.now() + 600_000),
      criticalOptions: extra,
      extensions: { 'permit-pty': '' },
      scope: {
        cluster: 'test',
        namespace: 'default',
        podPatterns: ['*'],
        profile: 'debug',
        requestId: 'req-sshd',
        groups: [],
      },
    });
    writeFileSync(`${user.path}-cert.pub`, `${signed.line}\n`);
    return spawnSync(
      SSH,
      [
        '-F',
        '/dev/null',
        '-i',
        user.path,
        '-o',
        `CertificateFile=${user.path}-cert.pub`,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=10',
        '-p',
        String(port),
        `${login}@127.0.0.1`,
        'echo',
        'airlock-ok',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
  }

  it('logs in with an airlock-signed certificate and runs a command', () => {
    const result = sshWith([login]);
    expect(result.stdout.trim(), `${result.stderr}\n${sshdLog}`).toBe('airlock-ok');
    expect(result.status).toBe(0);
  });

  it('refuses the certificate for a principal it does not list', async () => {
    const result = sshWith(['someone-else']);
    expect(result.status).toBe(255);
    expect(result.stdout).toBe('');
    expect(await sshdLogged('Certificate invalid: name is not a listed principal')).toBe(true);
  });

  it('enforces an airlock-written source-address that excludes the client', async () => {
    const result = sshWith([login], { 'source-address': '192.0.2.0/24' });
    expect(result.status).toBe(255);
    expect(await sshdLogged('valid certificate but not from a permitted source address (127.0.0.1)')).toBe(
      true,
    );
  });
});
