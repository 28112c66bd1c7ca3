import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../services/core/errors.js';
import { parseCertificateLine } from '../../services/core/ssh-cert/index.js';
import { KeygenWorkspace } from '../fixtures/ssh-cert/ssh-keygen-harness.js';
import {
  executorKubeConfig,
  type Gateway,
  newSession,
  runExec,
  startGateway,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod } from '../support/kube.js';
import { debugTarget, type Mediator, ssh, sshUser, startMediator } from '../support/mediator-harness.js';
import { captureOpenSessions, presentLogin } from './support/compromised-mediator.js';

/**
 * Security review finding 3: the executor checked that the bytes the
 * mediator forwarded were signed by the certified key, but not what they
 * were. A compromised mediator could replay one captured login signature to
 * open new sessions after the user left, or present any other signature the
 * key ever made (`ssh-keygen -Y sign`). The executor now accepts only a
 * signature over an RFC 4252 publickey request for the certificate, each
 * once, and checks the certificate's own restrictions and a per-user limit.
 */
describe('adversarial: login signatures replayed or borrowed by a compromised mediator', () => {
  const target = debugTarget('replay', 'req-replay');
  const { scope } = target;
  let gateway: Gateway;
  let mediator: Mediator;
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'opened',
      (error: unknown) => (error instanceof AirlockError ? error.code : `threw ${String(error)}`),
    );
  const denials = (code: string) =>
    gateway.audit.events().filter((e) => e.event === 'auth.denied' && e.code === code);

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, target.payments);
    await createRunningPod(admin, target.payments, 'api-0', [{ name: 'main' }]);
    gateway = await startGateway(
      target.policy,
      await executorKubeConfig(target.suffix, [`jit:debug:${target.payments}`], [target.payments]),
      undefined,
      'impersonation',
      { maxSessionsPerUser: 3 },
    );
    mediator = await startMediator(gateway, target.policy);
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('finding 3: a login captured over the real ssh client opens no session after the user disconnected (CERT_SIGNATURE_REPLAYED)', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const capture = captureOpenSessions();
    let result: Awaited<ReturnType<typeof ssh>>;
    try {
      result = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'honest']);
    } finally {
      capture.restore();
    }
    expect(result).toEqual({ code: 0, stdout: 'honest\n', stderr: '' });
    expect(capture.captured).toHaveLength(1);
    const login = capture.captured[0]!;
    // The user has gone; the mediator presents what it saw three times, as in the finding.
    for (let i = 0; i < 3; i++) {
      expect(await codeOf(presentLogin(gateway, login))).toBe('CERT_SIGNATURE_REPLAYED');
    }
    expect(denials('CERT_SIGNATURE_REPLAYED').length).toBeGreaterThanOrEqual(3);
    // The honest user logs in again at once: a new connection signs a new request.
    expect(await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'again'])).toEqual({
      code: 0,
      stdout: 'again\n',
      stderr: '',
    });
  });

  it('finding 3: a login presented twice over gRPC opens one session only', async () => {
    const session = await newSession(gateway, { scope });
    await session.client.openSession(session.request);
    await session.client.closeSession();
    session.client.close();
    expect(await codeOf(presentLogin(gateway, session.request))).toBe('CERT_SIGNATURE_REPLAYED');
  });

  it('finding 3: an `ssh-keygen -Y sign` signature by the certified key is not a login (CERT_BAD_SIGNATURE)', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const ws = new KeygenWorkspace();
    try {
      const { signature, signedData } = ws.sshsig(user.keyPath, Buffer.from('release notes v1.2\n'));
      const certificate = parseCertificateLine(readFileSync(user.certPath, 'utf8').trim()).certificate;
      const before = denials('CERT_BAD_SIGNATURE').length;
      const outcome = await codeOf(
        presentLogin(gateway, {
          ssh_certificate: Buffer.from(certificate.blob),
          auth_signature: signature,
          auth_signed_data: signedData,
          principal: 'alice',
        }),
      );
      expect(outcome).toBe('CERT_BAD_SIGNATURE');
      const denial = denials('CERT_BAD_SIGNATURE').slice(before)[0];
      expect(denial?.reason).toContain('not an SSH login request');
    } finally {
      ws.cleanup();
    }
  });

  it('finding 3: the executor itself enforces permit-pty and force-command on each intent, and audits the denial', async () => {
    const noPty = await newSession(gateway, { scope, extensions: {} });
    await noPty.client.openSession(noPty.request);
    const tty = await runExec(noPty.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'x'],
      tty: true,
    });
    expect(tty.error?.code).toBe('ACTION_NOT_ALLOWED');
    const plain = await runExec(noPty.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'x'],
    });
    expect(plain.stdout.toString()).toBe('x\n');
    await noPty.client.closeSession();
    noPty.client.close();

    const forced = await newSession(gateway, {
      scope,
      criticalOptions: { 'force-command': 'exec api-0 -- echo forced' },
    });
    await forced.client.openSession(forced.request);
    const other = await runExec(forced.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'other'],
    });
    expect(other.error?.code).toBe('ACTION_NOT_ALLOWED');
    const allowed = await runExec(forced.client, {
      target: { namespace: '', pod: 'api-0', container: '' },
      argv: ['echo', 'forced'],
    });
    expect(allowed.stdout.toString()).toBe('forced\n');
    await forced.client.closeSession();
    forced.client.close();

    const rules = gateway.audit
      .events()
      .filter((e) => e.event === 'intent.denied')
      .map((e) => (e.details as { rule?: string } | undefined)?.rule);
    expect(rules).toContain('certificate.permit-pty');
    expect(rules).toContain('certificate.force-command');
  });

  it('finding 3: the executor limits open sessions per user (LIMIT_EXCEEDED)', async () => {
    const open = [];
    for (let i = 0; i < 3; i++) {
      const session = await newSession(gateway, { scope, principal: 'carol' });
      await session.client.openSession(session.request);
      open.push(session);
    }
    const fourth = await newSession(gateway, { scope, principal: 'carol' });
    expect(await codeOf(fourth.client.openSession(fourth.request))).toBe('LIMIT_EXCEEDED');
    fourth.client.close();
    await open[0]!.client.closeSession();
    const fifth = await newSession(gateway, { scope, principal: 'carol' });
    expect(await codeOf(fifth.client.openSession(fifth.request))).toBe('opened');
    for (const session of [...open, fifth]) {
      await session.client.closeSession().catch(() => {});
      session.client.close();
    }
  });
});
