import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../support/executor-harness.js';
import { debugTarget, type Mediator, ssh, sshUser, startDebugGateway } from '../support/mediator-harness.js';

/**
 * A certificate and its key copied to another machine: OpenSSH's
 * `source-address` critical option (PROTOCOL.certkeys) pins where it may be
 * used from. The mediator listens on 127.0.0.1; Linux routes all of
 * 127.0.0.0/8 over loopback, so `ssh -b 127.0.0.2` arrives from another
 * source address on the same machine.
 */
describe('adversarial: a certificate replayed from another source address', () => {
  const target = debugTarget('sa', 'req-source');
  const { scope } = target;
  let gateway: Gateway;
  let mediator: Mediator;

  beforeAll(async () => {
    ({ gateway, mediator } = await startDebugGateway(target));
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('accepts the certificate from 127.0.0.1 and refuses the same certificate and key from 127.0.0.2 with CERT_SOURCE_ADDRESS', async () => {
    const user = sshUser(gateway.sshCa, {
      scope,
      criticalOptions: { 'source-address': '127.0.0.1/32' },
    });

    const home = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'from-home'], {
      extra: ['-b', '127.0.0.1'],
    });
    expect(home).toEqual({ code: 0, stdout: 'from-home\n', stderr: '' });

    const before = mediator.audit.events().length;
    const replay = await ssh(mediator, user, ['exec', 'api-0', '--', 'echo', 'from-elsewhere'], {
      extra: ['-b', '127.0.0.2'],
    });
    expect(replay.code).toBe(255);
    expect(replay.stdout).toBe('');
    expect(replay.stderr).toContain('Permission denied');
    const denials = mediator.audit
      .events()
      .slice(before)
      .filter((e) => e.event === 'auth.denied');
    expect(denials.map((e) => e.code)).toContain('CERT_SOURCE_ADDRESS');
    expect(denials.find((e) => e.code === 'CERT_SOURCE_ADDRESS')?.actor?.address).toBe('127.0.0.2');
    // The replay never got as far as the executor: no session was opened for it.
    expect(
      gateway.audit
        .events()
        .filter((e) => e.event === 'session.opened')
        .map((e) => e.actor?.address),
    ).not.toContain('127.0.0.2');
  });
});
