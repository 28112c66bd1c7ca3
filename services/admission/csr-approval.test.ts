import { describe, expect, it } from 'vitest';
import { testPolicy } from '../core/policy/testing.js';
import { literalName, toPem } from '../core/x509/certificate-input.js';
import { createCsr } from '../core/x509/index.js';
import { type CryptoKeyPair, crypto, x509 } from '../core/x509/provider.js';
import type { CsrApprovalReview, ReviewedCsr } from './admission-review.js';
import { type CsrApprovalRules, csrApprovalRules, decideCsrApproval } from './csr-approval.js';

const BROKER = 'system:serviceaccount:airlock-system:airlock-broker';
const RULES: CsrApprovalRules = {
  groups: new Set(['jit:oncall:payments', 'jit:cluster-read:prod']),
  maxExpirationSeconds: 3600,
};

async function csrFor(commonName: string, organizations: string[] = []): Promise<string> {
  return (await createCsr({ commonName, organizations, keyType: 'ecdsa-p256' })).csrPem;
}

/** A CSR with an arbitrary subject and extensions (what createCsr refuses to make). */
async function rawCsr(name: string | x509.Name, extensions: x509.Extension[] = []): Promise<string> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: algorithm,
    extensions,
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

function review(requestPem: string, edit: Partial<ReviewedCsr> = {}): CsrApprovalReview {
  return {
    uid: 'uid-1',
    operation: 'UPDATE',
    username: BROKER,
    csr: {
      name: 'airlock-req-1-abcd',
      requestPem,
      signerName: 'kubernetes.io/kube-apiserver-client',
      expirationSeconds: 1800,
      usages: ['client auth'],
      creator: BROKER,
      conditionTypes: ['Approved'],
      ...edit,
    },
  };
}

describe('decideCsrApproval', () => {
  it('allows a person with groups the policy renders, within the TTL', async () => {
    const pem = await csrFor('alice@example.com', ['jit:oncall:payments', 'jit:cluster-read:prod']);
    expect(await decideCsrApproval(review(pem, { expirationSeconds: 3600 }), RULES)).toEqual({
      allowed: true,
    });
    expect(
      await decideCsrApproval(
        review(await csrFor('bob'), { usages: ['digital signature', 'client auth'] }),
        RULES,
      ),
    ).toEqual({ allowed: true });
  });

  it.each([
    ['system:kube-controller-manager', []],
    ['system:serviceaccount:kube-system:default', []],
    ['airlock:session', ['jit:oncall:payments']],
    ['oidc:alice', []],
    ['', []],
    ['alice\u0007', []],
  ])('refuses CN %j (CSR_SUBJECT_MISMATCH)', async (commonName, groups) => {
    // createCsr refuses empty names and control characters itself; write those subjects by hand.
    const pem = /^$|[\u0000-\u001f]/.test(commonName)
      ? await rawCsr(literalName([['CN', commonName]]))
      : await csrFor(commonName, groups);
    const verdict = await decideCsrApproval(review(pem), RULES);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toMatch(/^CSR_SUBJECT_MISMATCH: subject /);
    expect(verdict.auditAnnotations?.code).toBe('CSR_SUBJECT_MISMATCH');
  });

  it.each([
    [['kubeadm:cluster-admins'], /O "kubeadm:cluster-admins" is not a group the policy renders/],
    [['system:masters'], /O "system:masters"/],
    [['jit:oncall:billing'], /O "jit:oncall:billing"/],
    [['jit:oncall:payments', 'jit:oncall:payments'], /repeats an O attribute/],
  ])('refuses O %j (CSR_SUBJECT_MISMATCH)', async (groups, why) => {
    const verdict = await decideCsrApproval(review(await csrFor('alice', groups)), RULES);
    expect(verdict).toMatchObject({ allowed: false, auditAnnotations: { code: 'CSR_SUBJECT_MISMATCH' } });
    expect(verdict.message).toMatch(why);
  });

  it('refuses two CNs (Go keeps the last one) and other subject attributes', async () => {
    const twoCns = await decideCsrApproval(
      review(await rawCsr('CN=alice, CN=system:kube-controller-manager')),
      RULES,
    );
    expect(twoCns.message).toBe('CSR_SUBJECT_MISMATCH: subject has 2 CN attributes, not 1');
    const ou = await decideCsrApproval(review(await rawCsr('CN=alice, OU=admins')), RULES);
    expect(ou.message).toMatch(/^CSR_SUBJECT_MISMATCH: subject carries other attributes \(OU\)/);
  });

  it('refuses a requested subjectAltName (CSR_APPROVAL_REFUSED)', async () => {
    const san = new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'kubernetes.default.svc' }]);
    const verdict = await decideCsrApproval(review(await rawCsr('CN=alice', [san])), RULES);
    expect(verdict.message).toBe('CSR_APPROVAL_REFUSED: the CSR requests a subjectAltName');
  });

  it.each<[Partial<ReviewedCsr>, string]>([
    [
      { expirationSeconds: 3601 },
      "TTL_TOO_LONG: expirationSeconds 3601 exceeds the policy's maximum of 3600",
    ],
    [{ expirationSeconds: undefined }, 'TTL_TOO_LONG: expirationSeconds is not set'],
    [
      { signerName: 'kubernetes.io/kubelet-serving' },
      'CSR_APPROVAL_REFUSED: signer "kubernetes.io/kubelet-serving"',
    ],
    [
      { usages: ['client auth', 'server auth'] },
      'CSR_APPROVAL_REFUSED: usages ["client auth","server auth"]',
    ],
    [{ usages: ['digital signature'] }, 'CSR_APPROVAL_REFUSED: usages ["digital signature"]'],
    [
      { creator: 'kubernetes-admin' },
      'CSR_APPROVAL_REFUSED: "system:serviceaccount:airlock-system:airlock-broker" may approve only its own CSRs',
    ],
  ])('refuses %j', async (edit, message) => {
    const verdict = await decideCsrApproval(review(await csrFor('alice'), edit), RULES);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message?.startsWith(message)).toBe(true);
  });

  it('refuses an unreadable request or a bad self-signature (X509_INVALID)', async () => {
    expect((await decideCsrApproval(review('not a csr'), RULES)).message).toBe(
      'X509_INVALID: csr must be one PEM CERTIFICATE REQUEST',
    );
    const pem = await csrFor('alice');
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const tampered = toPem(der, 'CERTIFICATE REQUEST');
    expect((await decideCsrApproval(review(tampered), RULES)).message).toBe(
      'X509_INVALID: csr self-signature does not verify',
    );
  });

  it('checks an Approved condition whatever its status, and lets a denial through', async () => {
    const pem = await csrFor('system:kube-controller-manager');
    expect((await decideCsrApproval(review(pem, { conditionTypes: ['Approved'] }), RULES)).allowed).toBe(
      false,
    );
    expect((await decideCsrApproval(review(pem, { conditionTypes: ['Denied'] }), RULES)).allowed).toBe(true);
    expect((await decideCsrApproval(review(pem, { conditionTypes: [] }), RULES)).allowed).toBe(true);
  });
});

describe('csrApprovalRules', () => {
  it('allows exactly the groups the policy renders for the cluster and namespaces, and the longest TTL', () => {
    const policy = testPolicy();
    const rules = csrApprovalRules(policy, { clusters: ['dev'], namespaces: ['payments', 'billing'] });
    expect([...rules.groups].sort()).toEqual([
      'jit:debug:dev:payments',
      'jit:read',
      'jit:shell:billing',
      'jit:shell:payments',
    ]);
    // limits.maxTtlSeconds 28800 applies to the shell profile, which sets none.
    expect(rules.maxExpirationSeconds).toBe(28800);
  });

  it('never goes below the CSR API minimum of 600 s that both callers ask for', () => {
    const policy = testPolicy((json) => {
      json.limits = { maxTtlSeconds: 300 };
      for (const profile of Object.values(json.profiles)) delete profile.maxTtlSeconds;
      for (const profile of Object.values(json.profiles)) {
        const approval = profile.approval as { autoApprove?: { maxTtlSeconds?: number }[] };
        for (const rule of approval.autoApprove ?? []) delete rule.maxTtlSeconds;
      }
    });
    expect(
      csrApprovalRules(policy, { clusters: ['dev'], namespaces: ['payments'] }).maxExpirationSeconds,
    ).toBe(600);
  });
});
