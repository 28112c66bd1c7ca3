import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../services/core/errors.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import {
  AIRLOCK_SCOPE_EXTENSION,
  encodeUserauthRequest,
  formatAirlockScope,
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  parseCertificateLine,
  signSshData,
  signUserCertificate,
} from '../../services/core/ssh-cert/index.js';
import { KeygenWorkspace } from '../fixtures/ssh-cert/ssh-keygen-harness.js';
import { type Gateway, newSession, newUserKey } from '../support/executor-harness.js';
import { debugTarget, type Mediator, ssh, sshUser, startDebugGateway } from '../support/mediator-harness.js';
import { presentLogin } from './support/compromised-mediator.js';

/**
 * Security review finding 9: nothing capped a certificate's lifetime (an
 * `ssh-keygen -V always:forever` certificate was accepted and got a 12-hour
 * grant per connection), and `airlock ssh-cert check` judged certificates
 * differently from the mediator and printed their key id raw.
 */
describe('adversarial: certificates longer than policy allows, and what ssh-cert check prints', () => {
  const target = debugTarget('lifetime', 'req-lifetime');
  const { scope } = target;
  let gateway: Gateway;
  let mediator: Mediator;
  let ws: KeygenWorkspace;
  let caPath: string;
  let policyPath: string;
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'opened',
      (error: unknown) => (error instanceof AirlockError ? error.code : `threw ${String(error)}`),
    );

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
    ws = new KeygenWorkspace();
    // The gateway's SSH user CA as a file, for ssh-keygen -s and ssh-cert check --ca.
    caPath = ws.path('user_ca');
    writeFileSync(caPath, formatOpenSshPrivateKey(gateway.sshCa.privateKey), { mode: 0o600 });
    writeFileSync(`${caPath}.pub`, `${formatPublicKeyLine(gateway.sshCa.publicKey)}\n`);
    policyPath = ws.path('policy.json');
    writeFileSync(policyPath, JSON.stringify(target.policy));
  });

  afterAll(async () => {
    ws?.cleanup();
    await mediator?.stop();
    await gateway?.stop();
  });

  /** `ssh-keygen -s` with the gateway's CA: a certificate file for a new key. */
  function keygenCert(name: string, args: string[]): { keyPath: string; certPath: string } {
    const key = ws.makeKey('ed25519', name).path;
    ws.signCert(caPath, key, ['-n', 'alice', ...args]);
    return { keyPath: key, certPath: `${key}-cert.pub` };
  }
  const scopeOption = ['-O', `extension:${AIRLOCK_SCOPE_EXTENSION}=${formatAirlockScope(scope)}`];

  it('finding 9: an `ssh-keygen -V always:forever` certificate is refused by the mediator with CERT_LIFETIME_EXCEEDS_POLICY', async () => {
    const user = keygenCert('forever', ['-I', 'forever', '-V', 'always:forever', ...scopeOption]);
    const before = mediator.audit.events().length;
    const result = await ssh(mediator, { ...user, serial: 0n }, ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Permission denied');
    const codes = mediator.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'auth.denied')
      .map((e) => e.code);
    expect(codes).toContain('CERT_LIFETIME_EXCEEDS_POLICY');
  });

  it('finding 9: the executor refuses a forever certificate too, whatever the mediator says', async () => {
    const user = newUserKey();
    const signed = signUserCertificate({
      caPrivateKey: gateway.sshCa,
      publicKey: user.publicKey,
      keyId: 'alice@forever',
      principals: ['alice'],
      validAfter: new Date(Date.now() - 60_000),
      validBefore: 'forever',
      scope,
    });
    const signedData = encodeUserauthRequest({
      sessionId: Buffer.alloc(32, 1),
      user: 'alice',
      algorithm: 'ssh-ed25519-cert-v01@openssh.com',
      keyBlob: signed.blob,
    });
    const outcome = await codeOf(
      presentLogin(
        gateway,
        {
          ssh_certificate: Buffer.from(signed.blob),
          auth_signature: Buffer.from(signSshData(user.publicKey, user.privateKey, signedData)),
          auth_signed_data: Buffer.from(signedData),
          principal: 'alice',
        },
        { grantSeconds: 12 * 3600 },
      ),
    );
    expect(outcome).toBe('CERT_LIFETIME_EXCEEDS_POLICY');
    expect(gateway.audit.events().some((e) => e.code === 'CERT_LIFETIME_EXCEEDS_POLICY')).toBe(true);
  });

  it('finding 9: a session ends with its certificate, and the executor refuses a grant that outlives it', async () => {
    const user = sshUser(gateway.sshCa, { scope, validSeconds: 300 });
    const validBefore = parseCertificateLine(readFileSync(user.certPath, 'utf8').trim()).certificate
      .validBefore;
    expect(await ssh(mediator, user, ['whoami'])).toMatchObject({ code: 0 });
    const opened = gateway.audit
      .events()
      .filter((e) => e.event === 'session.opened')
      .map((e) => (e.details as { expires_at?: string }).expires_at);
    expect(opened).toContain(new Date(Number(validBefore) * 1000).toISOString());

    // A compromised mediator's long grant for an honest login is refused.
    const login = await newSession(gateway, { scope, validSeconds: 300 });
    login.client.close();
    expect(await codeOf(presentLogin(gateway, login.request, { grantSeconds: 3600 }))).toBe('GRANT_INVALID');
  });

  /** The real CLI, as an operator runs it. */
  function sshCertCheck(certPath: string, ...extra: string[]) {
    const run = spawnSync(
      process.execPath,
      [
        join(repoRoot(), 'bin', 'airlock.js'),
        'ssh-cert',
        'check',
        '--cert',
        certPath,
        '--ca',
        `${caPath}.pub`,
        '--principal',
        'alice',
        '--policy',
        policyPath,
        ...extra,
      ],
      { encoding: 'utf8' },
    );
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  it('finding 9: ssh-cert check refuses a certificate without the airlock scope, as the mediator does', () => {
    const user = keygenCert('no-scope', ['-I', 'no-scope', '-V', '-5m:+5m']);
    const result = sshCertCheck(user.certPath);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^CERT_SCOPE_INVALID: /);
    const forever = keygenCert('check-forever', ['-I', 'f', '-V', 'always:forever', ...scopeOption]);
    expect(sshCertCheck(forever.certPath).stdout).toMatch(/^CERT_LIFETIME_EXCEEDS_POLICY: /);
  });

  it('finding 9: ssh-cert check prints an escape-laden key id escaped (text and JSON)', () => {
    const keyId = 'alice\x1b]0;owned\x07\x1b[2J\x9b31m\u202e';
    const user = keygenCert('escapes', ['-I', keyId, '-V', '-5m:+5m', ...scopeOption]);
    const text = sshCertCheck(user.certPath);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('key id:         alice\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202e\n');
    expect(text.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    const json = sshCertCheck(user.certPath, '--output', 'json');
    expect(json.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    expect(JSON.parse(json.stdout).identity.keyId).toBe(keyId);
  });
});
