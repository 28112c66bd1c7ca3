import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError, type ErrorCode } from '../errors.js';
import { issueServingCertificate, issueSessionGrant } from './leaf-issuer.js';
import { type VerifyPeerCertificateOptions, verifyPeerCertificate } from './peer-verifier.js';
import { x509 } from './provider.js';
import { certificateDer, issueCustomCertificate, type TestIssuer, tamperTbs } from './testing.js';
import { createTierCa, type TierCa } from './tier-ca.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const SCOPE = 'ab'.repeat(32);

async function rejection(promise: Promise<unknown>): Promise<AirlockError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AirlockError);
    return error as AirlockError;
  }
  return expect.unreachable('expected a rejection');
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  expect((await rejection(promise)).code).toBe(code);
}

const clientAuth = () => new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]);

/** A leaf `session:x` from `issuer`, valid from NOW for `hours`, with the clientAuth usage unless `extensions` says otherwise. */
function sessionLeaf(issuer: TestIssuer | TierCa, hours = 1, extensions: x509.Extension[] = [clientAuth()]) {
  return issueCustomCertificate({
    issuer,
    subject: [{ CN: ['session:x'] }],
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + hours * HOUR),
    extensions,
  });
}

let mediatorCa: TierCa;
let executorCa: TierCa;
let grantPem: string;
let servingPem: string;

const asClient = (trusted: TierCa[] = [mediatorCa], now = NOW): VerifyPeerCertificateOptions => ({
  trustedCas: trusted.map((ca) => ca.certPem),
  usage: 'client',
  now,
});

beforeAll(async () => {
  // The CAs start an hour before the leaves, so leaf-window checks are not masked by CA-window checks.
  mediatorCa = await createTierCa({ tier: 'mediator', now: new Date(NOW.getTime() - HOUR) });
  executorCa = await createTierCa({ tier: 'executor', now: new Date(NOW.getTime() - HOUR) });
  grantPem = (
    await issueSessionGrant(mediatorCa, {
      sessionId: 'sess-1',
      user: 'alice',
      scopeDigest: SCOPE,
      notAfter: new Date(NOW.getTime() + HOUR),
      now: NOW,
    })
  ).certPem;
  servingPem = (await issueServingCertificate(executorCa, { dnsNames: ['executor.airlock'], now: NOW }))
    .certPem;
});

describe('verifyPeerCertificate', () => {
  it('accepts a session grant from the trusted mediator CA as a client, PEM or DER', async () => {
    const verified = await verifyPeerCertificate(grantPem, { ...asClient(), expectedTier: 'mediator' });
    expect(verified.commonName).toBe('session:sess-1');
    expect(verified.tier).toBe('mediator');
    expect(verified.issuerFingerprint).toBe(mediatorCa.fingerprint);
    expect(verified.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    await expect(verifyPeerCertificate(certificateDer(grantPem), asClient())).resolves.toMatchObject({
      fingerprint: verified.fingerprint,
    });
  });

  it('accepts a serving certificate as a server', async () => {
    const verified = await verifyPeerCertificate(servingPem, {
      trustedCas: new Set([mediatorCa.certPem, executorCa.certPem]),
      usage: 'server',
      now: NOW,
      expectedTier: 'executor',
    });
    expect(verified.commonName).toBe('executor.airlock');
  });

  it('refuses a grant issued by another tier CA (X509_UNTRUSTED)', async () => {
    await expectCode(verifyPeerCertificate(grantPem, asClient([executorCa])), 'X509_UNTRUSTED');
  });

  it('refuses a grant from a trusted CA of the wrong tier (X509_WRONG_TIER)', async () => {
    await expectCode(
      verifyPeerCertificate(grantPem, { ...asClient([executorCa, mediatorCa]), expectedTier: 'executor' }),
      'X509_WRONG_TIER',
    );
  });

  it('refuses an expired leaf, accepting it up to and including notAfter (zero skew)', async () => {
    const notAfter = new Date(NOW.getTime() + HOUR);
    await expect(verifyPeerCertificate(grantPem, asClient([mediatorCa], notAfter))).resolves.toBeDefined();
    await expectCode(
      verifyPeerCertificate(grantPem, asClient([mediatorCa], new Date(notAfter.getTime() + 1))),
      'X509_EXPIRED',
    );
  });

  it('refuses a not-yet-valid leaf, accepting it from notBefore on (zero skew)', async () => {
    await expect(verifyPeerCertificate(grantPem, asClient([mediatorCa], NOW))).resolves.toBeDefined();
    await expectCode(
      verifyPeerCertificate(grantPem, asClient([mediatorCa], new Date(NOW.getTime() - 1))),
      'X509_NOT_YET_VALID',
    );
  });

  it('refuses a valid leaf whose CA has expired', async () => {
    const shortCa = await createTierCa({ tier: 'mediator', validityDays: 1, now: NOW });
    // airlock never issues a leaf that outlives its CA; craft one.
    const leaf = await sessionLeaf(shortCa, 48);
    const options = { trustedCas: [shortCa.certPem], usage: 'client' as const };
    await expect(verifyPeerCertificate(leaf.certPem, { ...options, now: NOW })).resolves.toBeDefined();
    const error = await rejection(
      verifyPeerCertificate(leaf.certPem, { ...options, now: new Date(NOW.getTime() + 25 * HOUR) }),
    );
    expect(error.code).toBe('X509_EXPIRED');
    expect(error.message).toBe('issuing CA has expired');
  });

  it('refuses a leaf whose CA is not yet valid', async () => {
    const futureCa = await createTierCa({ tier: 'mediator', now: new Date(NOW.getTime() + HOUR) });
    const leaf = await sessionLeaf(futureCa, 2);
    await expectCode(
      verifyPeerCertificate(leaf.certPem, { trustedCas: [futureCa.certPem], usage: 'client', now: NOW }),
      'X509_NOT_YET_VALID',
    );
  });

  it('refuses a server certificate used as a client and a grant used as a server (X509_WRONG_USAGE)', async () => {
    await expectCode(
      verifyPeerCertificate(servingPem, { trustedCas: [executorCa.certPem], usage: 'client', now: NOW }),
      'X509_WRONG_USAGE',
    );
    await expectCode(
      verifyPeerCertificate(grantPem, { trustedCas: [mediatorCa.certPem], usage: 'server', now: NOW }),
      'X509_WRONG_USAGE',
    );
  });

  it('refuses a leaf without extendedKeyUsage instead of reading it as any purpose', async () => {
    const leaf = await issueCustomCertificate({
      issuer: mediatorCa,
      subject: [{ CN: ['no-eku'] }],
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + HOUR),
      extensions: [],
    });
    await expectCode(verifyPeerCertificate(leaf.certPem, asClient()), 'X509_WRONG_USAGE');
  });

  it('refuses a CA certificate presented as the peer certificate', async () => {
    await expectCode(verifyPeerCertificate(mediatorCa.certPem, asClient()), 'X509_WRONG_USAGE');
  });

  it('refuses a leaf issued by a trusted certificate that is not a CA', async () => {
    const notCa = await issueCustomCertificate({
      subject: [{ CN: ['airlock mediator CA fake'] }, { O: ['airlock'] }],
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 24 * HOUR),
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), clientAuth()],
    });
    const leaf = await sessionLeaf(notCa);
    const error = await rejection(
      verifyPeerCertificate(leaf.certPem, { trustedCas: [notCa.certPem], usage: 'client', now: NOW }),
    );
    expect(error.code).toBe('X509_UNTRUSTED');
    expect(error.message).toBe('issuer is not a CA');
  });

  it('refuses a CA whose keyUsage lacks keyCertSign', async () => {
    const noCertSign = await issueCustomCertificate({
      subject: [{ CN: ['airlock mediator CA x'] }],
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 24 * HOUR),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const leaf = await sessionLeaf(noCertSign);
    const error = await rejection(
      verifyPeerCertificate(leaf.certPem, { trustedCas: [noCertSign.certPem], usage: 'client', now: NOW }),
    );
    expect(error.message).toBe('issuer may not sign certificates');
  });

  it('refuses a grant whose to-be-signed part was altered (one bit in the subject CN)', async () => {
    const tampered = tamperTbs(grantPem, 'session:sess-1');
    const error = await rejection(verifyPeerCertificate(tampered, asClient()));
    expect(error.code).toBe('X509_UNTRUSTED');
    expect(error.message).toBe('certificate signature does not verify');
  });

  it('refuses a grant whose signature value was altered', async () => {
    const der = certificateDer(grantPem);
    const copy = Uint8Array.from(der);
    const last = copy.length - 1;
    copy[last] = (copy[last] ?? 0) ^ 0x01; // last octet of the ECDSA signature's s
    await expectCode(verifyPeerCertificate(copy, asClient()), 'X509_UNTRUSTED');
  });

  it('refuses a leaf with an unknown critical extension', async () => {
    const leaf = await sessionLeaf(mediatorCa, 1, [
      clientAuth(),
      new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00])),
    ]);
    const error = await rejection(verifyPeerCertificate(leaf.certPem, asClient()));
    expect(error.code).toBe('X509_UNTRUSTED');
    expect(error.detail).toBe('1.3.6.1.4.1.99999.1');
  });

  it('verifies against the right CA when two trusted CAs share a subject (same-day rotation)', async () => {
    const sameDay = await createTierCa({ tier: 'mediator', now: NOW });
    expect(sameDay.fingerprint).not.toBe(mediatorCa.fingerprint);
    expect(sameDay.certificate.subject).toBe(mediatorCa.certificate.subject);
    const both = { trustedCas: [sameDay.certPem, mediatorCa.certPem], usage: 'client' as const, now: NOW };
    await expect(verifyPeerCertificate(grantPem, both)).resolves.toMatchObject({
      issuerFingerprint: mediatorCa.fingerprint,
    });
    await expectCode(
      verifyPeerCertificate(grantPem, { ...both, trustedCas: [sameDay.certPem] }),
      'X509_UNTRUSTED',
    );
  });

  it('checks a trusted CA kept from an earlier verification again at every call', async () => {
    // The first call parses the CA PEM and keeps it; the later ones reuse it.
    await verifyPeerCertificate(grantPem, asClient());
    const afterCa = new Date(mediatorCa.notAfter.getTime() + 1000);
    const expired = await rejection(verifyPeerCertificate(grantPem, asClient([mediatorCa], afterCa)));
    expect(expired.code).toBe('X509_EXPIRED');
    expect(expired.message).toBe('issuing CA has expired');
    await expectCode(verifyPeerCertificate(servingPem, asClient([mediatorCa])), 'X509_UNTRUSTED');
    await expect(verifyPeerCertificate(grantPem, asClient())).resolves.toMatchObject({
      commonName: 'session:sess-1',
    });
  });

  it('refuses input that is not one certificate (X509_INVALID)', async () => {
    await expectCode(verifyPeerCertificate('', asClient()), 'X509_INVALID');
    await expectCode(verifyPeerCertificate(grantPem + grantPem, asClient()), 'X509_INVALID');
    await expectCode(
      verifyPeerCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), asClient()),
      'X509_INVALID',
    );
  });

  it('refuses bad options with USAGE', async () => {
    await expectCode(verifyPeerCertificate(grantPem, { ...asClient(), trustedCas: [] }), 'USAGE');
    await expectCode(verifyPeerCertificate(grantPem, { ...asClient(), now: new Date(Number.NaN) }), 'USAGE');
  });
});
