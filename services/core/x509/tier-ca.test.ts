import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { x509 } from './provider.js';
import { createTierCa, loadTierCa } from './tier-ca.js';

const NOW = new Date('2026-03-01T12:34:56.789Z');

describe('createTierCa', () => {
  it('creates a self-signed ECDSA P-256 CA with the airlock CA profile', async () => {
    const ca = await createTierCa({ tier: 'executor', now: NOW });
    const cert = new x509.X509Certificate(ca.certPem);
    expect(cert.subject).toBe('CN=airlock executor CA 2026-03-01, O=airlock');
    expect(cert.issuer).toBe(cert.subject);
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    expect(cert.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    expect([basic?.ca, basic?.pathLength, basic?.critical]).toEqual([true, 0, true]);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    expect(keyUsage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(keyUsage?.critical).toBe(true);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
    expect(cert.notBefore.toISOString()).toBe('2026-03-01T12:34:56.000Z');
    expect(cert.notAfter.toISOString()).toBe('2027-03-01T12:34:56.000Z');
    expect(ca.tier).toBe('executor');
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('draws a positive 16-octet serial number, different every time', async () => {
    const [a, b] = await Promise.all([
      createTierCa({ tier: 'broker', now: NOW }),
      createTierCa({ tier: 'broker', now: NOW }),
    ]);
    for (const ca of [a, b]) expect(ca.certificate.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/i);
    expect(a.certificate.serialNumber).not.toBe(b.certificate.serialNumber);
  });

  it('honours commonName and validityDays, refusing a name of another tier', async () => {
    const ca = await createTierCa({
      tier: 'mediator',
      commonName: 'airlock mediator CA eu-1',
      validityDays: 30,
      now: NOW,
    });
    expect(ca.certificate.subject).toBe('CN=airlock mediator CA eu-1, O=airlock');
    expect(ca.notAfter.getTime() - ca.notBefore.getTime()).toBe(30 * 86_400_000);
    await expect(
      createTierCa({ tier: 'mediator', commonName: 'airlock broker CA', now: NOW }),
    ).rejects.toThrow(/must start with "airlock mediator CA"/);
    await expect(createTierCa({ tier: 'mediator', validityDays: 0, now: NOW })).rejects.toThrow(
      /validityDays/,
    );
  });

  it('honours validitySeconds (a per-request CA ends with its request), refusing under 60 s', async () => {
    const ca = await createTierCa({ tier: 'executor', validitySeconds: 900, now: NOW });
    expect(ca.notAfter.getTime() - ca.notBefore.getTime()).toBe(900_000);
    await expect(createTierCa({ tier: 'executor', validitySeconds: 59, now: NOW })).rejects.toThrow(
      /validitySeconds/,
    );
  });
});

describe('loadTierCa', () => {
  it('round-trips a CA through its PEMs', async () => {
    const ca = await createTierCa({ tier: 'mediator', now: NOW });
    const loaded = await loadTierCa(ca.certPem, ca.privateKeyPem);
    expect([loaded.tier, loaded.fingerprint, loaded.certPem]).toEqual([ca.tier, ca.fingerprint, ca.certPem]);
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const a = await createTierCa({ tier: 'mediator', now: NOW });
    const b = await createTierCa({ tier: 'mediator', now: NOW });
    const error = await loadTierCa(a.certPem, b.privateKeyPem).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({ code: 'X509_INVALID', detail: 'private key does not match certificate' });
  });

  it('refuses garbage key text and non-CA certificates', async () => {
    const ca = await createTierCa({ tier: 'mediator', now: NOW });
    await expect(loadTierCa(ca.certPem, 'nope')).rejects.toMatchObject({ code: 'X509_INVALID' });
    await expect(
      loadTierCa(ca.certPem, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
    ).rejects.toMatchObject({ code: 'X509_INVALID', detail: 'private key does not parse' });
    await expect(loadTierCa('not a cert', ca.privateKeyPem)).rejects.toMatchObject({ code: 'X509_INVALID' });
  });
});
