import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevOidcProvider, startDevOidcProvider } from '../cli/dev/dev-oidc-provider.js';
import { createTierCa, issueServingCertificate } from '../core/x509/index.js';
import { createAuthenticator, createOidcVerifier, mapGroups, type OidcVerifier } from './identity.js';

let provider: DevOidcProvider;
let verifier: OidcVerifier;
let tierCaPem: string;

beforeAll(async () => {
  const tierCa = await createTierCa({ tier: 'broker', now: new Date(Date.now() - 60_000) });
  const cert = await issueServingCertificate(tierCa, { ipAddresses: ['127.0.0.1'], now: new Date() });
  tierCaPem = tierCa.certPem;
  provider = await startDevOidcProvider({
    tls: { key: cert.privateKeyPem ?? '', cert: cert.certPem },
    clientId: 'airlock',
    users: {
      dana: { groups: ['okta-sre', 'okta-misc'] },
      erin: { groups: ['okta-sre'], email: 'erin@example.com' },
    },
  });
  verifier = createOidcVerifier(
    {
      issuer: provider.issuer,
      audience: 'airlock',
      usernameClaim: 'preferred_username',
      groupsClaim: 'groups',
      groupMapping: { 'okta-sre': ['sre', 'engineering'] },
      passThroughGroups: false,
      caPem: tierCa.certPem,
      clockToleranceSeconds: 0,
    },
    () => new Date(),
  );
});

afterAll(async () => {
  await provider?.stop();
});

describe('OIDC ID token verification (discovery + JWKS, jose)', () => {
  describe('a user name from email needs email_verified: true', () => {
    const byEmail = (verifiedClaim: string | undefined) =>
      createOidcVerifier(
        {
          issuer: provider.issuer,
          audience: 'airlock',
          usernameClaim: 'email',
          usernameVerifiedClaim: verifiedClaim,
          groupsClaim: 'groups',
          groupMapping: {},
          passThroughGroups: true,
          caPem: tierCaPem,
          clockToleranceSeconds: 0,
        },
        () => new Date(),
      );

    it('accepts a verified address', async () => {
      const token = await provider.mintIdToken('erin');
      expect(await byEmail('email_verified').verify(token)).toMatchObject({ user: 'erin@example.com' });
    });

    it.each<[string, boolean | string | null]>([
      ['false', false],
      ['missing', null],
      ['the string "true"', 'true'],
    ])('refuses email_verified %s with AUTH_UNVERIFIED', async (_name, emailVerified) => {
      const token = await provider.mintIdToken('erin', { emailVerified });
      await expect(byEmail('email_verified').verify(token)).rejects.toMatchObject({
        code: 'AUTH_UNVERIFIED',
        message: 'the identity provider has not verified your email (email_verified is not true)',
      });
    });

    it('checks nothing when no verification claim is configured', async () => {
      const token = await provider.mintIdToken('erin', { emailVerified: false });
      expect(await byEmail(undefined).verify(token)).toMatchObject({ user: 'erin@example.com' });
    });
  });

  it('accepts a valid token and maps its groups', async () => {
    expect(await verifier.verify(await provider.mintIdToken('dana'))).toEqual({
      user: 'dana',
      groups: ['sre', 'engineering'],
      kind: 'human',
      via: 'oidc',
    });
  });

  it('checks the issuer claim itself (not only the routing)', async () => {
    const token = await provider.mintIdToken('dana', { issuer: 'https://other.example' });
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'AUTH_INVALID',
      message: "the ID token's iss claim is not accepted",
    });
    // Without machine auth every token goes to the OIDC verifier.
    await expect(
      createAuthenticator(verifier, provider.issuer).authenticate(`Bearer ${token}`),
    ).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
  });

  it('checks the audience and the expiry', async () => {
    await expect(
      verifier.verify(await provider.mintIdToken('dana', { audience: 'x' })),
    ).rejects.toMatchObject({
      code: 'AUTH_INVALID',
      message: "the ID token's aud claim is not accepted",
    });
    await expect(
      verifier.verify(await provider.mintIdToken('dana', { expiresInSeconds: -1 })),
    ).rejects.toMatchObject({
      code: 'AUTH_EXPIRED',
    });
  });

  it('maps groups: mapped, passed through only when asked, deduplicated', () => {
    const mapping = { a: ['x', 'y'], b: ['y'] };
    expect(mapGroups(['a', 'b', 'c'], { groupMapping: mapping, passThroughGroups: false })).toEqual([
      'x',
      'y',
    ]);
    expect(mapGroups(['a', 'c'], { groupMapping: mapping, passThroughGroups: true })).toEqual([
      'x',
      'y',
      'c',
    ]);
    expect(mapGroups(['__proto__'], { groupMapping: mapping, passThroughGroups: false })).toEqual([]);
  });
});
