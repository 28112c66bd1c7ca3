/**
 * Per-request mTLS identities: request A's session grants verify at A's
 * executor and are refused by B's (X509_UNTRUSTED), A's executor serving
 * certificate is refused by B's mediator, and everything ends with the
 * request.
 */
import { describe, expect, it } from 'vitest';
import {
  issueServingCertificate,
  issueSessionGrant,
  loadTierCa,
  verifyPeerCertificate,
} from '../../core/x509/index.js';
import { createTierSecrets, TLS_FILES } from './tier-credentials.js';

const NOW = new Date('2026-11-27T10:00:00Z');

describe('per-request tier credentials', () => {
  it("A's credentials verify at A's pods only, and end with the request", async () => {
    const [a, b] = await Promise.all([
      createTierSecrets('req-aaaaaaaaaaaaaaaaaaaa', NOW, 600),
      createTierSecrets('req-bbbbbbbbbbbbbbbbbbbb', NOW, 600),
    ]);
    expect(a.notAfter.getTime() - NOW.getTime()).toBe(600_000);
    const mediatorCa = await loadTierCa(
      a.mediator[TLS_FILES.mediatorCaCert]!,
      a.mediator[TLS_FILES.mediatorCaKey]!,
    );
    const grant = await issueSessionGrant(mediatorCa, {
      sessionId: 'ses-1',
      user: 'sam',
      scopeDigest: 'ab'.repeat(32),
      notAfter: new Date(NOW.getTime() + 3_600_000),
      now: NOW,
    });
    expect(grant.notAfter).toEqual(a.notAfter);
    const atExecutor = (secrets: typeof a) =>
      verifyPeerCertificate(grant.certPem, {
        trustedCas: [secrets.executor[TLS_FILES.mediatorCaCert]!],
        usage: 'client',
        now: NOW,
        expectedTier: 'mediator',
      });
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
      verifyPeerCertificate(serving.certPem, {
        trustedCas: [secrets.mediator[TLS_FILES.executorCaCert]!],
        usage: 'server',
        now: NOW,
        expectedTier: 'executor',
      });
    await expect(atMediator(a)).resolves.toMatchObject({ fingerprint: expect.any(String) });
    await expect(atMediator(b)).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });
    // Neither tier holds the other's CA key.
    expect(Object.keys(a.mediator).sort()).toEqual([
      'executor-ca.crt',
      'mediator-ca.crt',
      'mediator-ca.key',
      'ssh_host_ed25519_key',
    ]);
    expect(Object.keys(a.executor).sort()).toEqual(['executor-ca.crt', 'executor-ca.key', 'mediator-ca.crt']);
  });
});
