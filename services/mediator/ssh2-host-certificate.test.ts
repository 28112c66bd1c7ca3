import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { certAuthorityLine } from '../cli/commands/host-trust.js';
import {
  generateCaKey,
  parsePublicKeyLine,
  signHostCertificate,
  signUserCertificate,
} from '../core/ssh-cert/index.js';

// patches/ssh2-openssh-host-certificates.patch on a bare ssh2 Server, against the
// machine's OpenSSH client: ed25519 and RSA host certificates (RSA checks that the
// signature uses the negotiated rsa-sha2-* hash, not the certificate's name), and the
// constructor's refusal of a certificate that is not a host certificate of the key.

const ALIAS = 'bare.airlock.test';
const dir = mkdtempSync(join(tmpdir(), 'airlock-ssh2-hostcert-'));
const ca = generateCaKey('ed25519', 'host-ca');
const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

function keygen(type: 'ed25519' | 'rsa'): { privateText: string; publicLine: string } {
  const path = join(dir, `host_${type}_${servers.length}_${Math.random().toString(36).slice(2)}`);
  const made = spawnSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);
  return { privateText: readFileSync(path, 'utf8'), publicLine: readFileSync(`${path}.pub`, 'utf8') };
}

function hostCert(publicLine: string, sign = signHostCertificate): string {
  const now = Date.now();
  return sign({
    caPrivateKey: ca,
    publicKey: parsePublicKeyLine(publicLine).key,
    keyId: 'bare',
    principals: [ALIAS],
    validAfter: new Date(now - 60_000),
    validBefore: new Date(now + 3_600_000),
  }).line;
}

async function serve(key: string, certificate: string): Promise<number> {
  const entry = { key, certificate };
  const server = new Server({ hostKeys: [entry] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('error', () => {});
    conn.on('session', (accept) =>
      accept().on('exec', (acceptExec) => {
        const stream = acceptExec();
        stream.write('certified\n');
        stream.exit(0);
        stream.end();
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function ssh(
  port: number,
  hostKeyAlgorithms: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${certAuthorityLine(ALIAS, ca.publicKey)}\n`);
  const args = ['-F', '/dev/null', '-p', String(port), '-v', '-o', `UserKnownHostsFile=${knownHosts}`];
  args.push('-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', `HostKeyAlias=${ALIAS}`);
  args.push(
    '-o',
    `HostKeyAlgorithms=${hostKeyAlgorithms}`,
    '-o',
    'IdentityFile=/dev/null',
    'x@127.0.0.1',
    'go',
  );
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ssh2 Server with an OpenSSH host certificate (the real ssh client)', () => {
  it.each([
    ['ed25519', 'ssh-ed25519-cert-v01@openssh.com'],
    ['rsa', 'rsa-sha2-512-cert-v01@openssh.com'],
    ['rsa', 'rsa-sha2-256-cert-v01@openssh.com'],
  ] as const)(
    '%s key, %s: the client verifies the certificate and the signature',
    async (type, algorithm) => {
      const key = keygen(type);
      const port = await serve(key.privateText, hostCert(key.publicLine));
      const result = await ssh(port, algorithm);
      expect(result.stderr).toContain(`kex: host key algorithm: ${algorithm}`);
      expect(result.stderr).toMatch(/is known and matches the (ED25519|RSA)-CERT host certificate/);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('certified\n');
    },
  );

  it('still offers the plain key: a client that wants no certificate gets the plain algorithm', async () => {
    const key = keygen('ed25519');
    const port = await serve(key.privateText, hostCert(key.publicLine));
    const result = await ssh(port, 'ssh-ed25519');
    expect(result.stderr).toContain('kex: host key algorithm: ssh-ed25519');
    // Only the CA is known, and a plain key carries no certificate: refused, no trust on first use.
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Host key verification failed/);
  });

  it('refuses at construction a user certificate, or a host certificate of another key', () => {
    const key = keygen('ed25519');
    const other = keygen('ed25519');
    const user = hostCert(key.publicLine, signUserCertificate);
    expect(() => new Server({ hostKeys: [{ key: key.privateText, certificate: user } as never] })).toThrow(
      /not a ssh-ed25519-cert-v01@openssh.com host certificate for this key/,
    );
    const foreign = hostCert(other.publicLine);
    expect(() => new Server({ hostKeys: [{ key: key.privateText, certificate: foreign } as never] })).toThrow(
      /host certificate for this key/,
    );
    expect(
      () => new Server({ hostKeys: [{ key: key.privateText, certificate: 'garbage' } as never] }),
    ).toThrow(/host certificate for this key/);
  });
});
