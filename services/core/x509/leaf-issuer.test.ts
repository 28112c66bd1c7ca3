import { createPrivateKey, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { issueServingCertificate, issueSessionGrant, MAX_SESSION_GRANT_SECONDS } from './leaf-issuer.js';
import { type CryptoKeyPair, crypto, x509 } from './provider.js';
import { parseSessionGrant, parseSessionGrantUri } from './session-grant.js';
import { createTierCa, ECDSA_SHA256, type TierCa } from './tier-ca.js';

/** The TBSCertificate of a DER certificate: the first element of its outer SEQUENCE (lengths < 64 KiB). */
function tbsOf(pem: string): Buffer {
  const der = Buffer.from(new x509.X509Certificate(pem).rawData);
  const outerHeader = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const inner = der.subarray(outerHeader);
  const length = inner[1]! & 0x80 ? inner.readUIntBE(2, inner[1]! & 0x7f) : inner[1]!;
  return inner.subarray(0, (inner[1]! & 0x80 ? 2 + (inner[1]! & 0x7f) : 2) + length);
}

const NOW = new Date('2026-03-01T12:00:00.250Z');
const NOW_S = new Date('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const SCOPE = '0123456789abcdef'.repeat(4);

let ca: TierCa;
beforeAll(async () => {
  ca = await createTierCa({ tier: 'mediator', now: NOW });
});

const grant = (overrides: Partial<Parameters<typeof issueSessionGrant>[1]> = {}) =>
  issueSessionGrant(ca, {
    sessionId: 'sess-01J',
    user: 'alice',
    scopeDigest: SCOPE,
    notAfter: new Date(NOW.getTime() + HOUR),
    now: NOW,
    ...overrides,
  });

describe('issueSessionGrant', () => {
  it('encodes the identity in subject and URI SAN, clientAuth only, and parses back', async () => {
    const user = "Ålice O'Brien+ops@example.com/x?y&z=1 %";
    const issued = await grant({ user });
    const cert = new x509.X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=session:sess-01J, O=airlock-mediator');
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const uris = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => n.value);
    expect(uris).toEqual([`airlock://session/sess-01J?user=${encodeURIComponent(user)}&scope=${SCOPE}`]);
    expect(issued.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const parsed = parseSessionGrant(issued.certPem);
    expect(parsed).toMatchObject({ sessionId: 'sess-01J', user, scopeDigest: SCOPE });
    expect(parsed.notBefore).toEqual(NOW_S);
    expect(parsed.notAfter).toEqual(new Date(NOW_S.getTime() + HOUR));
    expect(parsed.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('caps the lifetime at 12 hours from now', async () => {
    const issued = await grant({ notAfter: new Date(NOW.getTime() + 48 * HOUR) });
    expect(issued.notBefore).toEqual(NOW_S);
    expect(issued.notAfter.getTime() - issued.notBefore.getTime()).toBe(MAX_SESSION_GRANT_SECONDS * 1000);
    expect(MAX_SESSION_GRANT_SECONDS).toBe(12 * 3600);
  });

  it('keeps a shorter requested end, in whole seconds', async () => {
    const issued = await grant({ notAfter: new Date(NOW.getTime() + 90_000.9) });
    expect(issued.notAfter).toEqual(new Date(NOW_S.getTime() + 90_000));
  });

  it('caps the lifetime at the CA notAfter', async () => {
    const shortCa = await createTierCa({
      tier: 'mediator',
      validityDays: 1,
      now: new Date(NOW.getTime() - 20 * HOUR),
    });
    const issued = await issueSessionGrant(shortCa, {
      sessionId: 's',
      user: 'u',
      scopeDigest: SCOPE,
      notAfter: new Date(NOW.getTime() + 12 * HOUR),
      now: NOW,
    });
    expect(issued.notAfter).toEqual(shortCa.notAfter);
  });

  it('refuses to issue from a CA that is expired or not yet valid', async () => {
    await expect(grant({ now: new Date(NOW.getTime() - 1000) })).rejects.toMatchObject({
      code: 'X509_NOT_YET_VALID',
    });
    const later = new Date(ca.notAfter.getTime() + 1000);
    await expect(grant({ now: later, notAfter: new Date(later.getTime() + HOUR) })).rejects.toMatchObject({
      code: 'X509_EXPIRED',
    });
  });

  it('refuses a requested end that is not after now (SESSION_EXPIRED)', async () => {
    for (const notAfter of [NOW, new Date(NOW.getTime() - 1000), new Date(Number.NaN)]) {
      await expect(grant({ notAfter })).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    }
  });

  it('refuses malformed identities with USAGE', async () => {
    for (const bad of [
      { sessionId: 'a/b' },
      { sessionId: '' },
      { user: '' },
      { user: 'a\nb' },
      { scopeDigest: 'ABCD' },
    ]) {
      const error = await grant(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).code).toBe('USAGE');
    }
  });

  it('certifies a supplied public key (PEM or CryptoKey) and returns no private key', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
    const pem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`;
    for (const publicKey of [keys.publicKey, pem]) {
      const issued = await grant({ publicKey });
      expect(issued.privateKeyPem).toBeUndefined();
      expect(Buffer.from(new x509.X509Certificate(issued.certPem).publicKey.rawData).equals(spki)).toBe(true);
    }
    const ed = (await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify'])) as CryptoKeyPair;
    await expect(grant({ publicKey: ed.publicKey })).rejects.toMatchObject({ code: 'X509_INVALID' });
  });
});

describe('issueSessionGrant writes the DER itself', () => {
  it('byte for byte the TBSCertificate @peculiar/x509 writes for the same fields, signed by the CA', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const user = "Ålice O'Brien+ops@example.com";
    const issued = await grant({ user, publicKey: keys.publicKey });
    const cert = new x509.X509Certificate(issued.certPem);
    // The same leaf through the library, as issueLeaf builds every other certificate.
    const expected = await x509.X509CertificateGenerator.create({
      serialNumber: issued.serialNumber,
      subject: new x509.Name([
        { CN: [{ utf8String: 'session:sess-01J' }] },
        { O: [{ utf8String: 'airlock-mediator' }] },
      ]),
      issuer: ca.certificate.subjectName,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      publicKey: keys.publicKey,
      signingKey: ca.signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
        await x509.AuthorityKeyIdentifierExtension.create(ca.certificate, false),
        new x509.SubjectAlternativeNameExtension(
          [
            {
              type: 'url',
              value: `airlock://session/sess-01J?user=${encodeURIComponent(user)}&scope=${SCOPE}`,
            },
          ],
          false,
        ),
      ],
    });
    expect(tbsOf(issued.certPem).toString('hex')).toBe(tbsOf(expected.toString('pem')).toString('hex'));
    expect(await cert.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true })).toBe(true);
  });

  it('generates a fresh P-256 key per grant whose private half matches the certificate', async () => {
    const [a, b] = [await grant(), await grant()];
    for (const issued of [a, b]) {
      const privateKey = createPrivateKey(issued.privateKeyPem!);
      expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(new X509Certificate(issued.certPem).checkPrivateKey(privateKey)).toBe(true);
    }
    const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
    expect(spki(a.certPem).equals(spki(b.certPem))).toBe(false);
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });
});

describe('parseSessionGrant', () => {
  it('refuses certificates that are not grants', async () => {
    const serving = await issueServingCertificate(ca, { dnsNames: ['m.airlock'], now: NOW });
    expect(() => parseSessionGrant(serving.certPem)).toThrow(/not a valid airlock session grant/);
    expect(() => parseSessionGrant(ca.certPem)).toThrow(AirlockError);
  });

  it('accepts only the canonical URI form', () => {
    expect(parseSessionGrantUri(`airlock://session/s?user=a%20b&scope=${SCOPE}`).user).toBe('a b');
    for (const uri of [
      `airlock://session/s?user=a+b&scope=${SCOPE}`,
      `airlock://session/s?user=%61&scope=${SCOPE}`,
      `airlock://session/s?scope=${SCOPE}&user=a`,
      `airlock://session/s?user=a&scope=${SCOPE.toUpperCase()}`,
      `airlock://session/s?user=%E0%A4%A&scope=${SCOPE}`,
      `airlock://session/s/t?user=a&scope=${SCOPE}`,
    ]) {
      expect(() => parseSessionGrantUri(uri), uri).toThrow(AirlockError);
    }
  });
});

describe('issueServingCertificate', () => {
  it('issues a serverAuth leaf with DNS and IP SANs for 24 h by default', async () => {
    const issued = await issueServingCertificate(ca, {
      dnsNames: ['mediator.airlock.svc', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      now: NOW,
    });
    const cert = new x509.X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=mediator.airlock.svc, O=airlock-mediator');
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: 'dns', value: 'mediator.airlock.svc' },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
    expect(issued.notAfter.getTime() - issued.notBefore.getTime()).toBe(86_400_000);
  });

  it('refuses no names, bad names and bad lifetimes', async () => {
    await expect(issueServingCertificate(ca, { now: NOW })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(issueServingCertificate(ca, { dnsNames: ['a b'], now: NOW })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(issueServingCertificate(ca, { ipAddresses: ['1.2.3'], now: NOW })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(
      issueServingCertificate(ca, { dnsNames: ['a'], lifetimeSeconds: 1.5, now: NOW }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });
});
