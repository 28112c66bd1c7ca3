import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/index.js';
import { formatPublicKeyLine, generateCaKey } from '../core/ssh-cert/index.js';
import { createCsr } from '../core/x509/index.js';
import { type AccessBroker, createAccessBroker } from './access-broker.js';
import { httpStatusFor } from './http-api.js';
import type { Identity } from './identity.js';
import { inMemoryBrokerDeps, newKeyLine, shellRequestFor } from './in-memory-broker-test-support.js';
import { InMemoryKubeCsrSigner } from './kube-csr-signer.js';
import { codeOf, subject } from './kube-csr-signer-test-support.js';

// The access broker issuing kube client certificates, and the HTTP status of their codes.

/** The audit event of a kube client certificate refused with `code`. */
const refusedIssue = (code: string) => ({ event: 'cert.issued', decision: 'deny', code });

describe('access broker: kube client certificates (in-memory ports)', () => {
  const now = new Date('2026-11-27T10:00:00Z');
  const sam: Identity = { user: 'sam', groups: ['sre'], kind: 'human', via: 'oidc' };
  const lee: Identity = { user: 'lee', groups: ['sre-leads'], kind: 'human', via: 'oidc' };

  function setup(kube: boolean) {
    const audit = new InMemoryAuditTrail('broker', () => now);
    const signer = new InMemoryKubeCsrSigner(() => now);
    const broker = createAccessBroker(
      inMemoryBrokerDeps(() => now, {
        audit,
        ...(kube ? { kubeCertificates: { signer, cluster: 'dev' } } : {}),
      }),
    );
    return { broker, audit, signer };
  }

  async function approved(broker: AccessBroker, cluster = 'dev', ttlSeconds = 3600) {
    const created = await broker.create(sam, {
      profile: 'shell',
      cluster,
      namespace: 'payments',
      podPatterns: ['api-0'],
      reason: 'debug',
      ttlSeconds,
      sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'k'),
    });
    await broker.approve(lee, created.id);
    return created.id;
  }

  it('issues a certificate for the requester CSR with expirationSeconds bounded as specified, audited as kube-client', async () => {
    const { broker, audit, signer } = setup(true);
    const id = await approved(broker, 'dev', 1200);
    expect(await broker.kubeCertificateSubject(sam, id)).toEqual({
      requestId: id,
      cluster: 'dev',
      commonName: 'sam',
      organizations: ['jit:shell:payments'],
      accessExpiresAt: '2026-11-27T10:20:00.000Z',
    });
    const { csrPem } = await createCsr({ ...subject, keyType: 'ed25519' });
    const issued = await broker.issueKubeCertificate(sam, id, {
      csr: csrPem,
      ttlSeconds: 1800,
      cluster: 'dev',
    });
    expect(signer.requests.map((r) => r.expirationSeconds)).toEqual([1200]);
    const cert = new X509Certificate(issued.certificate);
    expect(cert.subject).toBe('CN=sam\nO=jit:shell:payments');
    expect(issued.notAfter).toBe('2026-11-27T10:20:00.000Z');
    const event = audit.events().at(-1);
    expect(event).toMatchObject({
      event: 'cert.issued',
      decision: 'allow',
      request_id: id,
      details: {
        kind: 'kube-client',
        serial: cert.serialNumber,
        not_after: issued.notAfter,
        expiration_seconds: 1200,
      },
    });
  });

  it('refuses a foreign subject (audited), another user, another cluster and a disabled feature', async () => {
    const { broker, audit, signer } = setup(true);
    const id = await approved(broker);
    const other = (
      await createCsr({ commonName: 'lee', organizations: subject.organizations, keyType: 'ecdsa-p256' })
    ).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(sam, id, { csr: other, ttlSeconds: 600 }))).toBe(
      'CSR_SUBJECT_MISMATCH',
    );
    expect(audit.events().at(-1)).toMatchObject(refusedIssue('CSR_SUBJECT_MISMATCH'));
    const good = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(lee, id, { csr: good, ttlSeconds: 600 }))).toBe(
      'ACCESS_FORBIDDEN',
    );
    expect(
      await codeOf(broker.issueKubeCertificate(sam, id, { csr: good, ttlSeconds: 600, cluster: 'prod' })),
    ).toBe('SCOPE_CLUSTER');
    const prodId = await approved(broker, 'prod-eu');
    expect(await codeOf(broker.issueKubeCertificate(sam, prodId, { csr: good, ttlSeconds: 600 }))).toBe(
      'SCOPE_CLUSTER',
    );
    expect(signer.requests).toEqual([]);

    const off = setup(false);
    const offId = await approved(off.broker);
    expect(await codeOf(off.broker.issueKubeCertificate(sam, offId, { csr: good, ttlSeconds: 600 }))).toBe(
      'KUBE_CERT_UNAVAILABLE',
    );
  });

  it('refuses (audited) a certificate the signer issued for another key', async () => {
    const audit = new InMemoryAuditTrail('broker', () => now);
    const honest = new InMemoryKubeCsrSigner(() => now);
    const otherKey = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    const broker = createAccessBroker(
      inMemoryBrokerDeps(() => now, {
        audit,
        kubeCertificates: {
          cluster: 'dev',
          signer: { sign: (r) => honest.sign({ ...r, csrPem: otherKey }), remove: (n) => honest.remove(n) },
        },
      }),
    );
    const id = await approved(broker);
    const good = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(sam, id, { csr: good, ttlSeconds: 600 }))).toBe(
      'KUBERNETES_ERROR',
    );
    expect(audit.events().at(-1)).toMatchObject(refusedIssue('KUBERNETES_ERROR'));
  });

  it('refuses before approval and after the access has expired', async () => {
    const { broker } = setup(true);
    const created = await broker.create(sam, shellRequestFor(newKeyLine('k')));
    const good = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(sam, created.id, { csr: good, ttlSeconds: 600 }))).toBe(
      'REQUEST_STATE',
    );
    expect(await codeOf(broker.issueKubeCertificate(sam, created.id, { csr: good, ttlSeconds: 0 }))).toBe(
      'USAGE',
    );
  });
});

describe('HTTP status of the kube certificate codes', () => {
  it('maps refusals to 400/403, a disabled feature to 501 and a failing signer to 502', () => {
    expect(
      (['X509_INVALID', 'CSR_SUBJECT_MISMATCH', 'KUBE_CERT_UNAVAILABLE', 'KUBERNETES_ERROR'] as const).map(
        httpStatusFor,
      ),
    ).toEqual([400, 403, 501, 502]);
  });
});
