import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTierCa, issueServingCertificate } from '../core/x509/index.js';
import { DEVICE_CODE_GRANT, type DevOidcProvider, startDevOidcProvider } from './dev-oidc-provider.js';
import { httpsCall } from './https-client.js';

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
