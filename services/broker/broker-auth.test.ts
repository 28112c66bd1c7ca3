import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseCertificateLine } from '../core/ssh-cert/index.js';
import { env, manualRequest, token, useBrokerEnv } from './broker-test-support.js';
import { INCIDENT_BOT, TEST_CLIENT_ID } from './testing.js';

useBrokerEnv();

describe('broker: authentication refusals', () => {
  const expectRefused = async (tokenValue: string | undefined, code: string) => {
    const response = await env.call('GET', '/v1/requests?mine=1', tokenValue);
    expect(response).toEqual({ status: 401, body: { code, message: expect.any(String) } });
  };

  it('refuses a call without a token', async () => {
    await expectRefused(undefined, 'AUTH_REQUIRED');
  });

  it('refuses an expired token', async () => {
    await expectRefused(await env.provider.mintIdToken('alice', { expiresInSeconds: -60 }), 'AUTH_EXPIRED');
  });

  it('refuses a token signed by another key with the issuer and audience of the real one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ preferred_username: 'alice', groups: ['payments-leads'] })
      .setProtectedHeader({ alg: 'ES256', kid: env.provider.jwk.kid ?? '' })
      .setIssuer(env.provider.issuer)
      .setAudience(TEST_CLIENT_ID)
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await exportJWK(publicKey)).x).not.toBe(env.provider.jwk.x);
    await expectRefused(forged, 'AUTH_INVALID');
  });

  it('refuses a token with an unsigned (alg none) header', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const body = Buffer.from(
      JSON.stringify({
        iss: env.provider.issuer,
        aud: TEST_CLIENT_ID,
        sub: 'bob',
        preferred_username: 'bob',
        iat: now,
        exp: now + 300,
      }),
    ).toString('base64url');
    await expectRefused(`${header}.${body}.`, 'AUTH_INVALID');
  });

  it('refuses a token for another audience', async () => {
    await expectRefused(
      await env.provider.mintIdToken('alice', { audience: 'some-other-app' }),
      'AUTH_INVALID',
    );
  });

  it('refuses a token naming another issuer, even when signed by the trusted key', async () => {
    await expectRefused(
      await env.provider.mintIdToken('alice', { issuer: 'https://evil.example' }),
      'AUTH_INVALID',
    );
  });

  it('refuses a malformed bearer token', async () => {
    await expectRefused('not-a-jwt', 'AUTH_INVALID');
  });
});

describe('broker: machine identities by TokenReview', () => {
  const saToken = (name: string) => {
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: 'https://kubernetes.default.svc', sub: name }),
    ).toString('base64url');
    return `${header}.${payload}.c2ln`;
  };

  it('a configured ServiceAccount requests its runbook and is auto-approved', async () => {
    const bot = saToken('bot');
    env.reviewer.add(bot, INCIDENT_BOT, ['system:serviceaccounts'], ['airlock-broker']);
    expect((await env.call('GET', '/v1/whoami', bot)).body).toEqual({
      user: INCIDENT_BOT,
      groups: ['runbook-runners'],
      kind: 'machine',
    });
    const created = await env.call('POST', '/v1/requests', bot, {
      ...manualRequest(),
      reason: 'health snapshot',
      ttlSeconds: 600,
      runbook: 'payments-health',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('approved');
    const cert = await env.call('POST', `/v1/requests/${created.body.id}/certificate`, bot);
    expect(parseCertificateLine(cert.body.certificate).certificate.principals).toEqual([INCIDENT_BOT]);
    // A machine never approves.
    const pending = await env.call('POST', '/v1/requests', await token('alice'), manualRequest());
    expect((await env.call('POST', `/v1/requests/${pending.body.id}/approve`, bot, {})).body.code).toBe(
      'APPROVAL_NOT_ALLOWED',
    );
  });

  it('refuses tokens the API server rejects, tokens for another audience, and unlisted ServiceAccounts', async () => {
    expect((await env.call('GET', '/v1/whoami', saToken('unknown'))).body.code).toBe('AUTH_INVALID');
    const wrongAudience = saToken('aud');
    env.reviewer.add(wrongAudience, INCIDENT_BOT, [], ['kubernetes']);
    expect((await env.call('GET', '/v1/whoami', wrongAudience)).body.code).toBe('AUTH_INVALID');
    const other = saToken('other');
    env.reviewer.add(other, 'system:serviceaccount:ops:other', [], ['airlock-broker']);
    expect((await env.call('GET', '/v1/whoami', other)).body.code).toBe('AUTH_INVALID');
  });
});
