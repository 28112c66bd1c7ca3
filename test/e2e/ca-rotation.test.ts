import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type DevStack, startDevStack } from '../../services/cli/dev/dev-stack.js';
import {
  formatPublicKeyLine,
  generateCaKey,
  parsePublicKeyLine,
  signUserCertificate,
} from '../../services/core/ssh-cert/index.js';

function ssh(stack: DevStack, certPath: string): Promise<number | null> {
  const user = stack.users.oncall!;
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-p',
        String(stack.sshPort),
        '-i',
        user.keyPath,
        '-o',
        `CertificateFile=${certPath}`,
        '-o',
        `UserKnownHostsFile=${stack.knownHostsPath}`,
        'oncall@127.0.0.1',
        'pods',
      ],
      { stdio: 'ignore' },
    );
    child.on('exit', (code) => resolve(code));
  });
}

/**
 * The SSH user CA rotates without restarting the gateway: add the new CA's
 * key to the trusted file (both tiers re-read it within a second), sign with
 * the new CA, then retire the old one.
 */
describe('SSH user CA rotation on the running gateway', () => {
  it('accepts the new CA once added and refuses the old one once retired, without a restart', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-rotation-'));
    const stack = await startDevStack(stateDir, () => {});
    try {
      const trusted = join(stateDir, 'keys', 'ssh-user-ca.pub');
      const oldCa = readFileSync(trusted, 'utf8');
      const brokerIssued = stack.users.oncall!.certPath;
      expect(await ssh(stack, brokerIssued)).toBe(0);

      const next = generateCaKey('ed25519', 'next-ca');
      const now = Date.now();
      const signed = signUserCertificate({
        caPrivateKey: next,
        publicKey: parsePublicKeyLine(readFileSync(`${stack.users.oncall!.keyPath}.pub`, 'utf8')).key,
        keyId: 'airlock:rotation:oncall',
        principals: ['oncall'],
        validAfter: new Date(now - 60_000),
        validBefore: new Date(now + 600_000),
        extensions: { 'permit-port-forwarding': '' },
        scope: {
          cluster: 'dev',
          namespace: 'payments',
          podPatterns: ['payments-*'],
          profile: 'oncall-debug',
          requestId: 'rotation',
          groups: ['jit:oncall:payments'],
        },
      });
      const nextCert = join(stateDir, 'next-cert.pub');
      writeFileSync(nextCert, `${signed.line}\n`);
      expect(await ssh(stack, nextCert)).toBe(255);

      appendFileSync(trusted, `${formatPublicKeyLine(next.publicKey, 'next-ca')}\n`);
      await sleep(1500);
      expect(await ssh(stack, nextCert)).toBe(0);
      expect(await ssh(stack, brokerIssued)).toBe(0);

      writeFileSync(trusted, `${formatPublicKeyLine(next.publicKey, 'next-ca')}\n`);
      await sleep(1500);
      expect(await ssh(stack, nextCert)).toBe(0);
      expect(await ssh(stack, brokerIssued)).toBe(255);
      expect(oldCa).not.toContain('next-ca');
    } finally {
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
