import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAllYaml, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/index.js';
import { AirlockError } from '../core/errors.js';
import { testPolicy } from '../core/policy/testing.js';
import { repoRoot } from '../core/repo/repo-root.js';
import { formatPublicKeyLine, generateCaKey } from '../core/ssh-cert/index.js';
import { literalName, toPem } from '../core/x509/certificate-input.js';
import { createCsr } from '../core/x509/index.js';
import { type CryptoKeyPair, crypto, x509 } from '../core/x509/provider.js';
import { type AccessBroker, createAccessBroker } from './access-broker.js';
import { loadBrokerConfig } from './config.js';
import { InMemoryDenyList } from './deny-list.js';
import { httpStatusFor } from './http-api.js';
import type { Identity } from './identity.js';
import {
  type CertificatesApi,
  checkKubeCsrSubject,
  createKubeCsrSignerFromApi,
  InMemoryKubeCsrSigner,
  KUBE_CLIENT_SIGNER,
  kubeCertLifetimeSeconds,
} from './kube-csr-signer.js';
import { InMemoryRequestStore } from './request-store.js';

const subject = { commonName: 'sam', organizations: ['jit:shell:payments'] };

async function csrWithName(
  attributes: [string, string][],
  algorithm: 'ecdsa' | 'rsa' = 'ecdsa',
): Promise<string> {
  const generate =
    algorithm === 'ecdsa'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        };
  const keys = (await crypto.subtle.generateKey(generate, false, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: literalName(attributes),
    keys,
    signingAlgorithm: algorithm === 'ecdsa' ? { name: 'ECDSA', hash: 'SHA-256' } : generate,
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof AirlockError ? error.code : String(error);
  }
}

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

describe('deploy/base/broker-rbac.yaml', () => {
  it('grants exactly create/get/delete on CSRs, update on their approval and approve on the kube-apiserver-client signer', () => {
    const docs = loadAllYaml(readFileSync(join(repoRoot(), 'deploy/base/broker-rbac.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string; namespace?: string };
      rules?: unknown[];
      subjects?: unknown[];
      roleRef?: { name: string };
    }[];
    expect(docs.map((d) => d.kind)).toEqual([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
    ]);
    // The last pair: get/update/patch on the one revocation ConfigMap (revocation-config-map.ts).
    expect(docs[5]).toMatchObject({ metadata: { namespace: 'airlock-system' } });
    expect(docs[5]?.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['airlock-revocation'],
        verbs: ['get', 'update', 'patch'],
      },
    ]);
    expect(docs[6]?.roleRef?.name).toBe(docs[5]?.metadata.name);
    expect(docs[6]?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'airlock-broker', namespace: 'airlock-system' },
    ]);
    // The second pair is TokenReview for machine identities, and nothing else.
    expect(docs[3]?.rules).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
    expect(docs[4]?.roleRef?.name).toBe(docs[3]?.metadata.name);
    const role = docs[1];
    expect(role?.rules).toEqual([
      {
        apiGroups: ['certificates.k8s.io'],
        resources: ['certificatesigningrequests'],
        verbs: ['create', 'get', 'delete'],
      },
      {
        apiGroups: ['certificates.k8s.io'],
        resources: ['certificatesigningrequests/approval'],
        verbs: ['update'],
      },
      {
        apiGroups: ['certificates.k8s.io'],
        resources: ['signers'],
        resourceNames: ['kubernetes.io/kube-apiserver-client'],
        verbs: ['approve'],
      },
    ]);
    expect(docs[2]?.roleRef?.name).toBe(role?.metadata.name);
    expect(docs[2]?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'airlock-broker', namespace: 'airlock-system' },
    ]);
    expect(readFileSync(join(repoRoot(), 'deploy/base/kustomization.yaml'), 'utf8')).toContain(
      '- broker-rbac.yaml\n',
    );
  });
});

describe('access broker: kube client certificates (in-memory ports)', () => {
  const now = new Date('2026-11-27T10:00:00Z');
  const sam: Identity = { user: 'sam', groups: ['sre'], kind: 'human', via: 'oidc' };
  const lee: Identity = { user: 'lee', groups: ['sre-leads'], kind: 'human', via: 'oidc' };

  function setup(kube: boolean) {
    const audit = new InMemoryAuditTrail('broker', () => now);
    const signer = new InMemoryKubeCsrSigner(() => now);
    const broker = createAccessBroker({
      policy: testPolicy(),
      store: new InMemoryRequestStore(),
      audit,
      denyList: new InMemoryDenyList(),
      caKey: generateCaKey('ed25519'),
      adminGroups: [],
      clock: () => now,
      ...(kube ? { kubeCertificates: { signer, cluster: 'dev' } } : {}),
    });
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
    expect(audit.events().at(-1)).toMatchObject({
      event: 'cert.issued',
      decision: 'deny',
      code: 'CSR_SUBJECT_MISMATCH',
    });
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
    const broker = createAccessBroker({
      policy: testPolicy(),
      store: new InMemoryRequestStore(),
      audit,
      denyList: new InMemoryDenyList(),
      caKey: generateCaKey('ed25519'),
      adminGroups: [],
      clock: () => now,
      kubeCertificates: {
        cluster: 'dev',
        signer: { sign: (r) => honest.sign({ ...r, csrPem: otherKey }), remove: (n) => honest.remove(n) },
      },
    });
    const id = await approved(broker);
    const good = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(sam, id, { csr: good, ttlSeconds: 600 }))).toBe(
      'KUBERNETES_ERROR',
    );
    expect(audit.events().at(-1)).toMatchObject({
      event: 'cert.issued',
      decision: 'deny',
      code: 'KUBERNETES_ERROR',
    });
  });

  it('refuses before approval and after the access has expired', async () => {
    const { broker } = setup(true);
    const created = await broker.create(sam, {
      profile: 'shell',
      cluster: 'dev',
      namespace: 'payments',
      podPatterns: ['api-0'],
      reason: 'debug',
      ttlSeconds: 600,
      sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'k'),
    });
    const good = (await createCsr({ ...subject, keyType: 'ecdsa-p256' })).csrPem;
    expect(await codeOf(broker.issueKubeCertificate(sam, created.id, { csr: good, ttlSeconds: 600 }))).toBe(
      'REQUEST_STATE',
    );
    expect(await codeOf(broker.issueKubeCertificate(sam, created.id, { csr: good, ttlSeconds: 0 }))).toBe(
      'USAGE',
    );
  });
});

describe('broker config: kubeCertificates', () => {
  it('is optional, resolves kubeconfig relative to the file, defaults the timeout, and names a bad field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-kube-cert-config-'));
    try {
      const base = {
        listen: { host: '127.0.0.1', port: 8443 },
        tls: { tierCaCertFile: 'ca.pem', tierCaKeyFile: 'ca.key' },
        policyFile: 'policy.json',
        sshCaKeyFile: 'ssh_user_ca',
        storeFile: 'requests.json',
        denyListFile: 'deny.json',
        audit: { path: 'audit.jsonl', signingKeyFile: 'audit.key' },
        oidc: {
          issuer: 'https://idp.example.com',
          clientId: 'airlock',
          usernameClaim: 'preferred_username',
          groupsClaim: 'groups',
          groupMapping: {},
          passThroughGroups: false,
        },
        adminGroups: ['airlock-admins'],
      };
      const file = join(dir, 'broker.json');
      writeFileSync(file, JSON.stringify(base));
      expect(loadBrokerConfig(file).kubeCertificates).toBeUndefined();
      writeFileSync(
        file,
        JSON.stringify({ ...base, kubeCertificates: { cluster: 'prod-eu', kubeconfig: 'kc.yaml' } }),
      );
      expect(loadBrokerConfig(file).kubeCertificates).toEqual({
        cluster: 'prod-eu',
        kubeconfig: join(dir, 'kc.yaml'),
        signTimeoutSeconds: 30,
      });
      writeFileSync(file, JSON.stringify({ ...base, kubeCertificates: { kubeconfig: 'kc.yaml' } }));
      expect(() => loadBrokerConfig(file)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
