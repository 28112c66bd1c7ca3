import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARDENED_ALGORITHMS } from '../../services/mediator/ssh-algorithms.js';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  type SshUser,
  ssh,
  sshUser,
  startDebugGateway,
} from '../support/mediator-harness.js';
import { trixieRoot, trixieSsh, trixieSshVersion } from '../support/openssh-trixie.js';

// Post-quantum key exchange (mlkem768x25519-sha256, carried into ssh2 by
// patches/ssh2-mlkem768x25519-sha256.patch) against a current OpenSSH client:
// Debian trixie-backports' 10.x, run from a chroot the tests build once (see
// test/support/openssh-trixie.ts). The machine's own OpenSSH 9.2 keeps working.

const PQ_WARNING = /not using a post-quantum key exchange/;
const EIGHT_MIB = 8 * 1024 * 1024;

/** A bare ssh2 server with the mediator's algorithms minus ML-KEM, answering every command with `classical`. */
async function classicalServer(): Promise<{ port: number; knownHosts: string; server: Server }> {
  const hostKey = utils.generateKeyPairSync('ed25519');
  const kex = (HARDENED_ALGORITHMS.kex as string[]).filter((name) => !name.startsWith('mlkem'));
  const server = new Server(
    { hostKeys: [hostKey.private], algorithms: { ...HARDENED_ALGORITHMS, kex: kex as never } },
    (conn) => {
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('error', () => {});
      conn.on('session', (accept) =>
        accept().on('exec', (acceptExec) => {
          const stream = acceptExec();
          stream.write('classical\n');
          stream.exit(0);
          stream.end();
        }),
      );
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const knownHosts = join(mkdtempSync(join(tmpdir(), 'airlock-classical-')), 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey.public}\n`);
  return { port, knownHosts, server };
}

describe('mediator: post-quantum key exchange with an OpenSSH 10 client', () => {
  const target = debugTarget('pq', 'req-pq');
  let gateway: Gateway;
  let mediator: Mediator;
  let user: SshUser;

  beforeAll(async () => {
    trixieRoot(); // Built once (a few minutes on a cold cache), before any session.
    ({ gateway, mediator } = await startDebugGateway(target));
    user = sshUser(gateway.sshCa, { scope: target.scope });
  }, 900_000);

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('uses an OpenSSH 10.x client', () => {
    expect(trixieSshVersion()).toMatch(/^OpenSSH_10\.\d+/);
  });

  it('negotiates mlkem768x25519-sha256, and the client prints no post-quantum warning', async () => {
    const result = await trixieSsh(mediator, user, ['exec', 'api-0', '--', 'echo', 'quantum'], {
      extra: ['-v'],
    });
    expect(result.stdout).toBe('quantum\n');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('kex: algorithm: mlkem768x25519-sha256');
    expect(result.stderr).not.toMatch(PQ_WARNING);
  });

  it('the same client warns on a server that offers no post-quantum key exchange (the check above can fail)', async () => {
    // The mediator's algorithms without ML-KEM, i.e. what it offered before; OpenSSH warns only when
    // the server offers nothing post-quantum, not when the client itself picks a classical method.
    const classical = await classicalServer();
    try {
      const result = await trixieSsh(classical, user, ['whoami']);
      expect(result.stdout).toBe('classical\n');
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(PQ_WARNING);
    } finally {
      classical.server.close();
    }
  });

  it('rekeys with ML-KEM while 8 MiB flow with RekeyLimit=1M, as OpenSSH 10.3+ requires of a peer', async () => {
    const command = ['exec', 'api-0', '--', 'head', '-c', String(EIGHT_MIB), '/dev/zero'];
    const result = await trixieSsh(mediator, user, command, {
      extra: ['-vv', '-o', 'RekeyLimit=1M'],
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(EIGHT_MIB);
    expect(/^\0*$/.test(result.stdout)).toBe(true);
    const kexinits = result.stderr.match(/SSH2_MSG_KEXINIT sent/g) ?? [];
    expect(kexinits.length).toBeGreaterThan(2);
    const algorithms = result.stderr.match(/kex: algorithm: \S+/g) ?? [];
    expect(algorithms.length).toBe(kexinits.length);
    expect(new Set(algorithms)).toEqual(new Set(['kex: algorithm: mlkem768x25519-sha256']));
  });

  it("the machine's OpenSSH 9.2 client still connects, with curve25519 (it has no ML-KEM)", async () => {
    const result = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'classic'], { extra: ['-v'] });
    expect(result.stdout).toBe('classic\n');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('kex: algorithm: curve25519-sha256');
  });
});
