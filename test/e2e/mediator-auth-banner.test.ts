import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCaKey } from '../../services/core/ssh-cert/index.js';
import type { Gateway } from '../support/executor-harness.js';
import {
  debugTarget,
  type Mediator,
  ssh,
  sshUser,
  startDebugGateway,
  startMediator,
} from '../support/mediator-harness.js';

/**
 * A refused login explains itself in an SSH banner (RFC 4252 §5.4), which
 * OpenSSH prints above `Permission denied (publickey)` — but only to a client
 * that proved possession of the certificate's key.
 */
describe('mediator: a refused login says why, to the key holder only', () => {
  const target = debugTarget('mab', 'req-auth-banner');
  let gateway: Gateway;
  let mediator: Mediator;

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('prints the code, the expiry and the fix for an expired certificate', async () => {
    const user = sshUser(gateway.sshCa, { scope: target.scope, validFromSeconds: -600, validSeconds: -120 });
    const result = await ssh(mediator, user, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(
      /airlock: CERT_EXPIRED — certificate has expired; your certificate expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; run: airlock cert req-auth-banner/,
    );
    expect(result.stderr).toContain('Permission denied (publickey)');
  });

  it('a mediator pinned to one request (ephemeral mode) refuses a certificate of another: CERT_REQUEST_MISMATCH, audited; its own request gets in', async () => {
    const user = sshUser(gateway.sshCa, { scope: target.scope });
    const pinnedElsewhere = await startMediator(
      gateway,
      target.policy,
      {},
      undefined,
      {},
      undefined,
      'req-bbbbbbbbbbbbbbbbbbbb',
    );
    const pinnedHere = await startMediator(
      gateway,
      target.policy,
      {},
      undefined,
      {},
      undefined,
      target.scope.requestId,
    );
    try {
      const refused = await ssh(pinnedElsewhere, user, ['whoami']);
      expect(refused.code).toBe(255);
      expect(refused.stderr).toContain(
        'airlock: CERT_REQUEST_MISMATCH — the certificate is for request req-auth-banner; this mediator serves req-bbbbbbbbbbbbbbbbbbbb',
      );
      expect(
        pinnedElsewhere.audit
          .events()
          .some((r) => r.event === 'auth.denied' && r.code === 'CERT_REQUEST_MISMATCH'),
      ).toBe(true);
      const admitted = await ssh(pinnedHere, user, ['whoami']);
      expect(admitted.stderr).toBe('');
      expect(admitted.code).toBe(0);
    } finally {
      await pinnedElsewhere.stop();
      await pinnedHere.stop();
    }
  });

  it('names the principals to log in as when the login name is not one of them', async () => {
    const user = sshUser(gateway.sshCa, { scope: target.scope });
    const result = await ssh(mediator, user, ['whoami'], { login: 'mallory' });
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('airlock: CERT_PRINCIPAL_MISMATCH');
    expect(result.stderr).toContain('log in as alice');
  });

  it('sends no airlock banner for a plain key or a certificate of an unknown CA', async () => {
    const plainKey = join(mkdtempSync(join(tmpdir(), 'airlock-plain-')), 'id_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plainKey]);
    const asPlain = await ssh(mediator, undefined, ['whoami'], { extra: ['-i', plainKey] });
    expect(asPlain.code).toBe(255);
    expect(asPlain.stderr).not.toContain('airlock:');
    const stranger = sshUser(generateCaKey('ed25519'), { scope: target.scope });
    const untrusted = await ssh(mediator, stranger, ['whoami']);
    expect(untrusted.code).toBe(255);
    expect(untrusted.stderr).not.toContain('airlock:');
  });

  it('sends no banner to a client that presents the certificate without its key', async () => {
    // The certificate is public; the thief signs with a key of their own.
    const victim = sshUser(gateway.sshCa, {
      scope: target.scope,
      validFromSeconds: -600,
      validSeconds: -120,
    });
    const certBlob = Buffer.from(readFileSync(victim.certPath, 'utf8').split(' ')[1]!, 'base64');
    const thiefKeyPath = join(mkdtempSync(join(tmpdir(), 'airlock-thief-')), 'id_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', thiefKeyPath]);
    const thiefKey = ssh2.utils.parseKey(readFileSync(thiefKeyPath));
    if (thiefKey instanceof Error || Array.isArray(thiefKey)) throw new Error('cannot read the thief key');
    const presented = Object.create(thiefKey, {
      type: { value: 'ssh-ed25519-cert-v01@openssh.com' },
      getPublicSSH: { value: () => certBlob },
    });
    const before = mediator.audit.events().length;
    const outcome = await new Promise<{ banners: string[]; error?: string }>((resolve) => {
      const banners: string[] = [];
      const client = new ssh2.Client();
      client.on('banner', (message: string) => banners.push(message));
      client.on('ready', () => {
        client.end();
        resolve({ banners, error: 'authenticated' });
      });
      client.on('error', (error) => resolve({ banners, error: error.message }));
      client.connect({
        host: '127.0.0.1',
        port: mediator.port,
        username: 'alice',
        hostVerifier: () => true,
        debug: process.env.AIRLOCK_TEST_SSH2_DEBUG ? (line: string) => console.log(line) : undefined,
        authHandler: [{ type: 'publickey', username: 'alice', key: presented }] as never,
      });
    });
    expect(outcome.error).toMatch(/All configured authentication methods failed/);
    expect(outcome.banners).toEqual([]);
    // The signed attempt reached the mediator (it was refused, audited), so the absence of a banner is meaningful.
    const denied = mediator.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'auth.denied');
    expect(denied.length).toBeGreaterThan(0);
  });
});
