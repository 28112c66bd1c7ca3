import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsCall } from '../../core/https/https-client.js';
import { createTierCa, issueServingCertificate } from '../../core/x509/index.js';
import {
  DEVICE_CODE_GRANT,
  type DevOidcProvider,
  loopbackRedirectProblem,
  startDevOidcProvider,
} from './dev-oidc-provider.js';

let provider: DevOidcProvider;
let ca: string;

beforeAll(async () => {
  const tierCa = await createTierCa({ tier: 'broker', now: new Date(Date.now() - 60_000) });
  ca = tierCa.certPem;
  const cert = await issueServingCertificate(tierCa, { ipAddresses: ['127.0.0.1'], now: new Date() });
  provider = await startDevOidcProvider({
    tls: { key: cert.privateKeyPem ?? '', cert: cert.certPem },
    clientId: 'cli',
    users: { dana: { groups: ['g1', 'g2'] } },
    pollIntervalSeconds: 1,
  });
});

afterAll(async () => {
  await provider?.stop();
});

const start = async () =>
  (await httpsCall(`${provider.issuer}/device_authorization`, { ca, form: { client_id: 'cli' } })).body as {
    device_code: string;
    user_code: string;
    interval: number;
  };
const poll = async (deviceCode: string) =>
  (
    await httpsCall(`${provider.issuer}/token`, {
      ca,
      form: { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: 'cli' },
    })
  ).body as { error?: string; id_token?: string };

describe('dev OpenID provider', () => {
  it('publishes discovery and a JWKS that verifies its ID tokens', async () => {
    const discovery = (await httpsCall(`${provider.issuer}/.well-known/openid-configuration`, { ca }))
      .body as Record<string, unknown>;
    expect(discovery.issuer).toBe(provider.issuer);
    expect(discovery.id_token_signing_alg_values_supported).toEqual(['ES256']);
    const jwks = (await httpsCall(String(discovery.jwks_uri), { ca })).body as { keys: [] };
    const token = await provider.mintIdToken('dana');
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: provider.issuer,
      audience: 'cli',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: 'dana', preferred_username: 'dana', groups: ['g1', 'g2'] });
  });

  it('answers slow_down to fast polling, access_denied after a denial, and redeems a code once', async () => {
    const a = await start();
    expect(await poll(a.device_code)).toEqual({ error: 'authorization_pending' });
    expect(await poll(a.device_code)).toEqual({ error: 'slow_down' });
    provider.denyDeviceCode(a.user_code);
    expect(await poll(a.device_code)).toEqual({ error: 'access_denied' });

    const b = await start();
    provider.approveDeviceCode(b.user_code, 'dana');
    expect(typeof (await poll(b.device_code)).id_token).toBe('string');
    expect(await poll(b.device_code)).toEqual({ error: 'invalid_grant' });
  });

  it('refuses unknown clients and unknown demo users', async () => {
    const response = await httpsCall(`${provider.issuer}/device_authorization`, {
      ca,
      form: { client_id: 'other' },
    });
    expect(response.status).toBe(401);
    const c = await start();
    expect(() => provider.approveDeviceCode(c.user_code, 'mallory')).toThrow(/no demo user/);
    const page = await httpsCall(`${provider.issuer}/device`, {
      ca,
      form: { user_code: c.user_code, user: 'mallory' },
    });
    expect(page.status).toBe(400);
  });
});

/** A PKCE pair (RFC 7636 §4.1-4.2). */
function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const REDIRECT = 'http://127.0.0.1:45678/callback';

function authorizeUrl(params: Record<string, string>): string {
  const url = new URL(`${provider.issuer}/authorize`);
  const all: Record<string, string> = {
    response_type: 'code',
    client_id: 'cli',
    redirect_uri: REDIRECT,
    scope: 'openid groups',
    state: 'st-1',
    nonce: 'n-1',
    code_challenge_method: 'S256',
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== '') url.searchParams.set(k, v);
  return url.toString();
}

/** GET /authorize, then the demo user's sign-in on the page; returns the redirect's query. */
async function signIn(params: Record<string, string>, user = 'dana'): Promise<URLSearchParams> {
  const page = await httpsCall(authorizeUrl(params), { ca });
  expect(page.status).toBe(200);
  const requestId = /name="request" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const back = await httpsCall(`${provider.issuer}/authorize`, { ca, form: { request: requestId, user } });
  expect(back.status).toBe(302);
  const location = new URL(String(back.headers.location));
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  return location.searchParams;
}

const redeem = async (form: Record<string, string>) =>
  httpsCall(`${provider.issuer}/token`, {
    ca,
    form: { grant_type: 'authorization_code', client_id: 'cli', redirect_uri: REDIRECT, ...form },
  });

describe('dev OpenID provider: authorization code flow with PKCE', () => {
  it('advertises the authorization endpoint, the code flow and S256 only', async () => {
    const discovery = (await httpsCall(`${provider.issuer}/.well-known/openid-configuration`, { ca }))
      .body as Record<string, unknown>;
    expect(discovery.authorization_endpoint).toBe(`${provider.issuer}/authorize`);
    expect(discovery.response_types_supported).toEqual(['code']);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    expect(discovery.grant_types_supported).toEqual([DEVICE_CODE_GRANT, 'authorization_code']);
  });

  it('issues a code for the state, redeems it once with the right verifier, with the nonce in the ID token', async () => {
    const { verifier, challenge } = pkce();
    const query = await signIn({ code_challenge: challenge });
    expect(query.get('state')).toBe('st-1');
    const code = query.get('code') ?? '';
    const token = await redeem({ code, code_verifier: verifier });
    expect(token.status).toBe(200);
    const idToken = (token.body as { id_token: string }).id_token;
    expect(decodeJwt(idToken)).toMatchObject({ sub: 'dana', aud: 'cli', nonce: 'n-1' });
    expect(await redeem({ code, code_verifier: verifier })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('refuses a wrong code_verifier, and the code is then spent', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn({ code_challenge: challenge })).get('code') ?? '';
    expect(await redeem({ code, code_verifier: pkce().verifier })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'code_verifier does not match' },
    });
    expect(await redeem({ code, code_verifier: verifier })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('refuses a missing code_verifier', async () => {
    const { challenge } = pkce();
    const code = (await signIn({ code_challenge: challenge })).get('code') ?? '';
    expect(await redeem({ code })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'code_verifier is required' },
    });
  });

  it('refuses a redirect_uri at the token endpoint that differs from the authorization request', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn({ code_challenge: challenge })).get('code') ?? '';
    expect(
      await redeem({ code, code_verifier: verifier, redirect_uri: 'http://127.0.0.1:45679/callback' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('sends an authorization request without PKCE S256 back with invalid_request', async () => {
    const cases: Record<string, string>[] = [
      { code_challenge: '' },
      { code_challenge: pkce().challenge, code_challenge_method: 'plain' },
      { code_challenge: pkce().challenge, code_challenge_method: '' },
    ];
    for (const params of cases) {
      const response = await httpsCall(authorizeUrl(params), { ca });
      expect(response.status).toBe(302);
      const location = new URL(String(response.headers.location));
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('st-1');
      expect(location.searchParams.get('code')).toBeNull();
    }
  });

  it('refuses a redirect_uri that is not on loopback, without redirecting to it', async () => {
    for (const redirect of [
      'https://evil.example/callback',
      'http://evil.example:8080/callback',
      'http://localhost:45678/callback',
      'http://10.0.0.1:45678/callback',
      'http://127.0.0.1/callback',
      'http://user@127.0.0.1:45678/callback',
    ]) {
      const response = await httpsCall(
        authorizeUrl({ code_challenge: pkce().challenge, redirect_uri: redirect }),
        {
          ca,
        },
      );
      expect(response.status, redirect).toBe(400);
      expect(response.headers.location, redirect).toBeUndefined();
      expect(loopbackRedirectProblem(redirect), redirect).toBeDefined();
    }
    expect(loopbackRedirectProblem('http://[::1]:45678/callback')).toBeUndefined();
    expect(loopbackRedirectProblem(REDIRECT)).toBeUndefined();
  });

  it('refuses an unknown client without redirecting, and sends a denial back as access_denied', async () => {
    const unknown = await httpsCall(authorizeUrl({ code_challenge: pkce().challenge, client_id: 'other' }), {
      ca,
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.location).toBeUndefined();
    const page = await httpsCall(authorizeUrl({ code_challenge: pkce().challenge }), { ca });
    const requestId = /name="request" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const denied = await httpsCall(`${provider.issuer}/authorize`, {
      ca,
      form: { request: requestId, action: 'deny' },
    });
    const location = new URL(String(denied.headers.location));
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('code')).toBeNull();
  });
});
