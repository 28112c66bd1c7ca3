import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toPem } from '../core/x509/certificate-input.js';
import { createCsr } from '../core/x509/index.js';
import {
  type CertificatesApi,
  checkKubeCsrSubject,
  createKubeCsrSignerFromApi,
  KUBE_CLIENT_SIGNER,
  kubeCertLifetimeSeconds,
} from './kube-csr-signer.js';
import { codeOf, csrWithName, subject } from './kube-csr-signer-test-support.js';

// The signer: subject checks, the certificate lifetime and the CertificatesApi
// flow. The broker's use of it: kube-csr-broker.test.ts; RBAC and config:
// kube-csr-deploy.test.ts.

describe('checkKubeCsrSubject', () => {
  it('accepts CN=<user>, O=<exactly the groups> for ECDSA P-256 and Ed25519 keys, in any O order', async () => {
    for (const keyType of ['ecdsa-p256', 'ed25519'] as const) {
      const { csrPem } = await createCsr({ ...subject, keyType });
      expect(await codeOf(checkKubeCsrSubject(csrPem, subject))).toBe('resolved');
    }
    const two = { commonName: 'sam', organizations: ['jit:a', 'jit:b'] };
    const reversed = await csrWithName([
      ['CN', 'sam'],
      ['O', 'jit:b'],
      ['O', 'jit:a'],
    ]);
    expect(await codeOf(checkKubeCsrSubject(reversed, two))).toBe('resolved');
  });

  it('refuses another CN, an extra O, a missing O, a repeated O, two CNs and other attributes with CSR_SUBJECT_MISMATCH', async () => {
    const cases: [string, [string, string][]][] = [
      [
        'other CN',
        [
          ['CN', 'admin'],
          ['O', 'jit:shell:payments'],
        ],
      ],
      [
        'extra O',
        [
          ['CN', 'sam'],
          ['O', 'jit:shell:payments'],
          ['O', 'system:masters'],
        ],
      ],
      ['missing O', [['CN', 'sam']]],
      [
        'repeated O',
        [
          ['CN', 'sam'],
          ['O', 'jit:shell:payments'],
          ['O', 'jit:shell:payments'],
        ],
      ],
      // Go's pkix.Name keeps the LAST CN: the apiserver would see "admin".
      [
        'two CNs',
        [
          ['CN', 'sam'],
          ['O', 'jit:shell:payments'],
          ['CN', 'admin'],
        ],
      ],
      [
        'OU',
        [
          ['CN', 'sam'],
          ['O', 'jit:shell:payments'],
          ['OU', 'x'],
        ],
      ],
    ];
    for (const [why, name] of cases) {
      expect([why, await codeOf(checkKubeCsrSubject(await csrWithName(name), subject))]).toEqual([
        why,
        'CSR_SUBJECT_MISMATCH',
      ]);
    }
  });

  it('refuses an RSA key, garbage and a tampered signature with X509_INVALID', async () => {
    const rsa = await csrWithName(
      [
        ['CN', 'sam'],
        ['O', 'jit:shell:payments'],
      ],
      'rsa',
    );
    expect(await codeOf(checkKubeCsrSubject(rsa, subject))).toBe('X509_INVALID');
    expect(await codeOf(checkKubeCsrSubject('hello', subject))).toBe('X509_INVALID');
    const { csrPem } = await createCsr({ ...subject, keyType: 'ecdsa-p256' });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01;
    expect(await codeOf(checkKubeCsrSubject(toPem(der, 'CERTIFICATE REQUEST'), subject))).toBe(
      'X509_INVALID',
    );
  });
});

describe('kubeCertLifetimeSeconds', () => {
  it('is max(600, min(ttl, remaining, 1800))', () => {
    expect(kubeCertLifetimeSeconds(1800, 3600)).toBe(1800);
    expect(kubeCertLifetimeSeconds(7200, 3600)).toBe(1800);
    expect(kubeCertLifetimeSeconds(900, 700.9)).toBe(700);
    expect(kubeCertLifetimeSeconds(900, 120)).toBe(600);
    expect(kubeCertLifetimeSeconds(60, 3600)).toBe(600);
  });
});

/** A CertificatesV1Api stand-in that behaves like the apiserver plus a signer (or not). */
function fakeApi(behaviour: 'sign' | 'deny' | 'never') {
  const calls: string[] = [];
  let object: V1CertificateSigningRequest | undefined;
  let reads = 0;
  const api: CertificatesApi = {
    async createCertificateSigningRequest({ body }) {
      calls.push(
        `create ${body.metadata?.name} ${body.spec.signerName} ${body.spec.expirationSeconds} ${body.spec.usages?.join(',')}`,
      );
      object = { ...body, metadata: { ...body.metadata, uid: 'uid-1', resourceVersion: '7' } };
      return object;
    },
    async replaceCertificateSigningRequestApproval({ name, body }) {
      calls.push(
        `approve ${name} uid=${body.metadata?.uid} rv=${body.metadata?.resourceVersion} ${body.status?.conditions?.[0]?.type}`,
      );
      return body;
    },
    async readCertificateSigningRequest({ name }) {
      reads++;
      calls.push(`read ${name}`);
      if (!object) throw new Error('not found');
      if (behaviour === 'deny')
        return { ...object, status: { conditions: [{ type: 'Denied', status: 'True', reason: 'X' }] } };
      if (behaviour === 'sign' && reads >= 2) {
        return {
          ...object,
          status: {
            certificate: Buffer.from(
              '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
            ).toString('base64'),
          },
        };
      }
      return object;
    },
    async deleteCertificateSigningRequest({ name }) {
      calls.push(`delete ${name}`);
      return {};
    },
  };
  return { api, calls };
}

describe('createKubeCsrSignerFromApi', () => {
  const request = { name: 'airlock-req-1', csrPem: 'CSR', expirationSeconds: 600, approvalMessage: 'm' };

  it('creates, approves with the created uid/resourceVersion, polls for the certificate and deletes the object', async () => {
    const { api, calls } = fakeApi('sign');
    const signer = createKubeCsrSignerFromApi(api, { sleep: async () => {} });
    expect(await signer.sign(request)).toContain('BEGIN CERTIFICATE');
    expect(calls).toEqual([
      `create airlock-req-1 ${KUBE_CLIENT_SIGNER} 600 client auth`,
      'approve airlock-req-1 uid=uid-1 rv=7 Approved',
      'read airlock-req-1',
      'read airlock-req-1',
      'delete airlock-req-1',
    ]);
  });

  it('deletes the object and fails with KUBERNETES_ERROR when the CSR is denied or never signed', async () => {
    const denied = fakeApi('deny');
    expect(
      await codeOf(createKubeCsrSignerFromApi(denied.api, { sleep: async () => {} }).sign(request)),
    ).toBe('KUBERNETES_ERROR');
    expect(denied.calls.at(-1)).toBe('delete airlock-req-1');
    const never = fakeApi('never');
    const signer = createKubeCsrSignerFromApi(never.api, { timeoutMs: 0, sleep: async () => {} });
    expect(await codeOf(signer.sign(request))).toBe('KUBERNETES_ERROR');
    expect(never.calls.at(-1)).toBe('delete airlock-req-1');
  });
});
