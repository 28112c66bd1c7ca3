import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../services/broker/testing.js';

/**
 * An IdP that lets users type an email address without proving it (many do
 * for self sign-up, and social logins forward whatever the upstream says)
 * must not let them sign in to the broker under someone else's address.
 * The broker maps `email` to the user name, as deploy/base/config/broker.json
 * does, and a real ES256 token from the dev IdP carries alice's address with
 * `email_verified` false, absent or the string "true".
 */
describe('adversarial: an OIDC user name from an unverified email', () => {
  let env: BrokerTestEnv;

  beforeAll(async () => {
    env = await startBrokerTestEnv({ kubeCertificatesCluster: false, oidc: { usernameClaim: 'email' } });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('control: a verified address signs in as that address', async () => {
    const token = await env.provider.mintIdToken('alice');
    const whoami = await env.call('GET', '/v1/whoami', token);
    expect(whoami.status).toBe(200);
    expect(whoami.body).toMatchObject({ user: 'alice@example.com' });
  });

  it.each<[string, boolean | string | null]>([
    ['false', false],
    ['missing', null],
    ['the string "true"', 'true'],
  ])(
    'finding 7: email_verified %s is refused with AUTH_UNVERIFIED (401) and audited',
    async (_name, emailVerified) => {
      const token = await env.provider.mintIdToken('alice', { emailVerified });
      const before = auditEvents().length;
      for (const [method, path] of [
        ['GET', '/v1/whoami'],
        ['GET', '/v1/requests?mine=1'],
      ] as const) {
        const response = await env.call(method, path, token);
        expect(response.status).toBe(401);
        expect(response.body).toEqual({
          code: 'AUTH_UNVERIFIED',
          message: 'the identity provider has not verified your email (email_verified is not true)',
        });
      }
      const created = await env.call('POST', '/v1/requests', token, {
        profile: 'oncall-debug',
        cluster: 'dev',
        namespace: 'payments',
        podPatterns: ['api-*'],
        ttlSeconds: 600,
        reason: 'INC-1234 checkout errors',
      });
      expect(created.status).toBe(401);
      expect(created.body.code).toBe('AUTH_UNVERIFIED');

      const denied = auditEvents()
        .slice(before)
        .filter((e) => e.event === 'auth.denied');
      expect(denied).toHaveLength(3);
      for (const e of denied) {
        expect(e).toMatchObject({ tier: 'broker', decision: 'deny', code: 'AUTH_UNVERIFIED' });
        expect(e.details.token).toContain('email "alice@example.com"');
      }
      expect(
        auditEvents().some((e) => e.event === 'request.created' && e.actor?.user === 'alice@example.com'),
      ).toBe(false);
    },
  );

  // biome-ignore lint/suspicious/noExplicitAny: audit records are read as untyped JSON
  function auditEvents(): Record<string, any>[] {
    return readFileSync(env.config.audit.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'event');
  }
});
