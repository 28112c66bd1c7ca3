/**
 * Per-request mTLS identities: request A's session grants verify at A's
 * executor and are refused by B's (X509_UNTRUSTED), A's executor serving
 * certificate is refused by B's mediator, and everything ends with the
 * request; the mediator's host certificate is the airlock host CA's, for
 * the request id alone, and ends with the request.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateCaKey,
  parseCertificateLine,
  parsePublicKeyLine,
  verifyCertificateIssuer,
} from '../../core/ssh-cert/index.js';
import {
  type AirlockTier,
  issueServingCertificate,
  loadTierCa,
  type PeerUsage,
  verifyPeerCertificate,
} from '../../core/x509/index.js';
import { issueHourGrant } from '../../core/x509/testing.js';
import { createTierSecrets, TLS_FILES } from './tier-credentials.js';

const NOW = new Date('2026-11-27T10:00:00Z');
const hostCa = generateCaKey('ed25519', 'airlock-host-ca');

/** Verifies `certPem` at NOW as a `usage` certificate of `tier`, trusting `trustedCa` alone. */
function verifyAs(certPem: string, trustedCa: string, usage: PeerUsage, tier: AirlockTier) {
  return verifyPeerCertificate(certPem, { trustedCas: [trustedCa], usage, now: NOW, expectedTier: tier });
}

describe('per-request tier credentials', () => {
  it("A's credentials verify at A's pods only, and end with the request", async () => {
    const [a, b] = await Promise.all([
      createTierSecrets('req-aaaaaaaaaaaaaaaaaaaa', NOW, 600, hostCa),
      createTierSecrets('req-bbbbbbbbbbbbbbbbbbbb', NOW, 600, hostCa),
    ]);
    expect(a.notAfter.getTime() - NOW.getTime()).toBe(600_000);
    const mediatorCa = await loadTierCa(
      a.mediator[TLS_FILES.mediatorCaCert]!,
      a.mediator[TLS_FILES.mediatorCaKey]!,
    );
    const grant = await issueHourGrant(mediatorCa, NOW, {
      sessionId: 'ses-1',
      user: 'sam',
      scopeDigest: 'ab'.repeat(32),
    });
    expect(grant.notAfter).toEqual(a.notAfter);
    const atExecutor = (secrets: typeof a) =>
      verifyAs(grant.certPem, secrets.executor[TLS_FILES.mediatorCaCert]!, 'client', 'mediator');
    await expect(atExecutor(a)).resolves.toMatchObject({ fingerprint: expect.any(String) });
    await expect(atExecutor(b)).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });

    const executorCa = await loadTierCa(
      a.executor[TLS_FILES.executorCaCert]!,
      a.executor[TLS_FILES.executorCaKey]!,
    );
    const serving = await issueServingCertificate(executorCa, {
      dnsNames: ['x.svc'],
      lifetimeSeconds: 86_400,
      now: NOW,
    });
    expect(serving.notAfter).toEqual(a.notAfter);
    const atMediator = (secrets: typeof a) =>
      verifyAs(serving.certPem, secrets.mediator[TLS_FILES.executorCaCert]!, 'server', 'executor');
    await expect(atMediator(a)).resolves.toMatchObject({ fingerprint: expect.any(String) });
    await expect(atMediator(b)).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });
    // Neither tier holds the other's CA key.
    expect(Object.keys(a.mediator).sort()).toEqual([
      'executor-ca.crt',
      'mediator-ca.crt',
      'mediator-ca.key',
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key-cert.pub',
    ]);
    expect(Object.keys(a.executor).sort()).toEqual(['executor-ca.crt', 'executor-ca.key', 'mediator-ca.crt']);
  });

  it('certifies the mediator host key by the host CA for the request id only, until the request ends', async () => {
    const requestId = 'req-cccccccccccccccccccc';
    const secrets = await createTierSecrets(requestId, NOW, 900, hostCa);
    const line = secrets.mediator[TLS_FILES.hostCertificate]!;
    expect(line.trim()).toBe(secrets.hostCertificate);
    const { certificate } = parseCertificateLine(line);
    expect(certificate.type).toBe('host');
    expect(certificate.principals).toEqual([requestId]);
    expect(certificate.keyId).toBe(`mediator/${requestId}`);
    expect(Number(certificate.validAfter)).toBe(NOW.getTime() / 1000 - 60);
    expect(Number(certificate.validBefore)).toBe(NOW.getTime() / 1000 + 900);
    expect(certificate.publicKey.blob).toEqual(parsePublicKeyLine(secrets.hostPublicKey).key.blob);
    expect(() => verifyCertificateIssuer(certificate, [hostCa.publicKey])).not.toThrow();
    // OpenSSH reads it as what it is.
    const dir = mkdtempSync(join(tmpdir(), 'airlock-host-cert-'));
    writeFileSync(join(dir, 'cert.pub'), line);
    const listing = execFileSync('ssh-keygen', ['-L', '-f', join(dir, 'cert.pub')], { encoding: 'utf8' });
    expect(listing).toContain('ssh-ed25519-cert-v01@openssh.com host certificate');
    expect(listing).toContain(`Key ID: "mediator/${requestId}"`);
    expect(listing).toMatch(/Principals: \n\s+req-c{20}\n/);
    expect(listing).toContain('Valid: from 2026-11-27T');
  });
});
