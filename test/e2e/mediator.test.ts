import { beforeAll, describe, expect, it } from 'vitest';
import { generateCaKey, parseDenyList } from '../../services/core/ssh-cert/index.js';
import type { Gateway } from '../support/executor-harness.js';
import { appendContainerLog } from '../support/kube.js';
import { useMediatorFixture } from '../support/mediator-fixture.js';
import { type Mediator, ssh, sshUser } from '../support/mediator-harness.js';

// Commands, their output, and refusals. Shells, ptys, force-command, port
// forwarding and expiry: mediator-sessions.test.ts.
describe('mediator: the stock OpenSSH client through the gateway to the hermetic cluster', () => {
  const fixture = useMediatorFixture();
  const { payments, scope } = fixture;
  let gateway: Gateway;
  let mediator: Mediator;
  beforeAll(() => {
    gateway = fixture.gateway;
    mediator = fixture.mediator;
  });

  it('runs an allowed command and passes its exit status through exactly', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const three = await ssh(mediator, user, ['exec', `${payments}/api-0`, '--', 'sh', '-c', "'exit 7'"]);
    expect(three.stderr).toBe('');
    expect(three.code).toBe(7);
    const echo = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'hello', 'world']);
    expect(echo).toEqual({ code: 0, stdout: 'hello world\n', stderr: '' });
  });

  it('records an allowed intent as intent.allowed in the mediator trail', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const before = mediator.audit.events().length;
    const echo = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'audited']);
    expect(echo.code).toBe(0);
    const allowed = mediator.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'intent.allowed');
    expect(allowed).toHaveLength(1);
    expect(allowed[0]).toMatchObject({
      decision: 'allow',
      target: { pod: 'api-0', resource: 'pods/exec', argv: ['echo', 'audited'] },
      details: { action: 'exec', rule: 'profiles.debug.commands.allow[0](echo)' },
    });
  });

  it('streams logs line by line with terminal escape sequences neutralised', async () => {
    appendContainerLog(payments, 'api-0', 'main', 'plain line');
    appendContainerLog(payments, 'api-0', 'main', '\u001b[2Jcleared?');
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['logs', 'api-0']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('plain line\n\\x1b[2Jcleared?\n');
  });

  it('prints pods as JSON for runbooks', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['pods', '--output', 'json']);
    expect(result.code).toBe(0);
    const names = (JSON.parse(result.stdout) as { items: { metadata: { name: string } }[] }).items.map(
      (p) => p.metadata.name,
    );
    expect(names).toEqual(['api-0']);
  });

  it.each([
    ['COMMAND_NOT_ALLOWED', ['exec', 'api-0', '--', 'ls', '/']],
    ['SCOPE_NAMESPACE', ['exec', 'kube-system/api-0', '--', 'echo', 'x']],
    ['SCOPE_POD', ['exec', 'db-0', '--', 'echo', 'x']],
  ])('refuses %s with exit status 77 and the code on stderr', async (code, command) => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, command);
    expect(result.code).toBe(77);
    expect(result.stderr).toMatch(new RegExp(`^airlock: ${code}: `));
    expect(mediator.audit.events().some((e) => e.event === 'intent.denied' && e.code === code)).toBe(true);
  });

  it('prints machine-readable errors with --output json', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['exec', 'api-0', '--output', 'json', '--', 'ls', '/']);
    expect(result.code).toBe(77);
    expect(JSON.parse(result.stderr)).toMatchObject({ code: 'COMMAND_NOT_ALLOWED' });
  });

  it.each([
    ['an untrusted CA', () => sshUser(generateCaKey('ed25519'), { scope }), 'CERT_UNTRUSTED_CA'],
    [
      'an expired certificate',
      () => sshUser(gateway.sshCa, { scope, validFromSeconds: -600, validSeconds: -120 }),
      'CERT_EXPIRED',
    ],
    [
      'a not-yet-valid certificate',
      () => sshUser(gateway.sshCa, { scope, validFromSeconds: 600, validSeconds: 1200 }),
      'CERT_NOT_YET_VALID',
    ],
    [
      'a certificate for another principal',
      () => sshUser(gateway.sshCa, { scope, principal: 'bob' }),
      'CERT_PRINCIPAL_MISMATCH',
    ],
    [
      'a source-address the client is not in',
      () => sshUser(gateway.sshCa, { scope, criticalOptions: { 'source-address': '10.1.2.0/24' } }),
      'CERT_SOURCE_ADDRESS',
    ],
  ])('refuses login with %s, and audits the code', async (_name, makeUser, code) => {
    const before = mediator.audit.events().length;
    const result = await ssh(mediator, makeUser(), ['whoami']);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Permission denied');
    const denials = mediator.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'auth.denied');
    expect(denials.map((e) => e.code)).toContain(code);
  });

  it('refuses a revoked certificate', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    gateway.revoked.push(parseDenyList(JSON.stringify({ serials: [user.serial.toString()] })));
    try {
      const result = await ssh(mediator, user, ['whoami']);
      expect(result.code).toBe(255);
    } finally {
      gateway.revoked.pop();
    }
    expect(mediator.audit.events().some((e) => e.event === 'auth.denied' && e.code === 'CERT_REVOKED')).toBe(
      true,
    );
  });

  it('refuses a plain key without a certificate', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, { ...user, certPath: '/dev/null' }, ['whoami']);
    expect(result.code).toBe(255);
    expect(mediator.audit.events().some((e) => e.event === 'auth.denied' && e.code === 'CERT_REQUIRED')).toBe(
      true,
    );
  });

  it.each([
    ['CBC ciphers only', ['-c', 'aes128-cbc,aes256-cbc']],
    ['SHA-1 MACs only', ['-o', 'MACs=hmac-sha1,hmac-sha1-etm@openssh.com', '-c', 'aes128-ctr']],
  ])('refuses a client offering %s', async (_name, extra) => {
    const user = sshUser(gateway.sshCa, { scope });
    const result = await ssh(mediator, user, ['whoami'], { extra });
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/no matching (cipher|MAC)/);
  });
});
