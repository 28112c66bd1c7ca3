import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAirlockError } from '../core/errors.js';
import { admissionResponse, parseCsrApprovalReview } from './admission-review.js';
import { clientCsrSpec } from './admission-review-test-support.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary paths of a JSON body
type Json = Record<string, any>;

const PEM = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n';

/** A review as kube-apiserver 1.37 sends it for `kubectl certificate approve` (trimmed). */
function body(): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'certificates.k8s.io', version: 'v1', kind: 'CertificateSigningRequest' },
      resource: { group: 'certificates.k8s.io', version: 'v1', resource: 'certificatesigningrequests' },
      subResource: 'approval',
      name: 'airlock-req-1-abcd',
      operation: 'UPDATE',
      userInfo: {
        username: 'system:serviceaccount:airlock-system:airlock-broker',
        groups: ['system:serviceaccounts'],
      },
      object: {
        metadata: { name: 'airlock-req-1-abcd' },
        spec: clientCsrSpec(PEM, 'system:serviceaccount:airlock-system:airlock-broker'),
        status: { conditions: [{ type: 'Approved', status: 'True', reason: 'AirlockApproved' }] },
      },
      oldObject: {},
      dryRun: false,
    },
  };
}

describe('parseCsrApprovalReview', () => {
  it('reads the approver, the CSR and its condition types', () => {
    expect(parseCsrApprovalReview(body())).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      operation: 'UPDATE',
      username: 'system:serviceaccount:airlock-system:airlock-broker',
      csr: {
        name: 'airlock-req-1-abcd',
        requestPem: PEM,
        signerName: 'kubernetes.io/kube-apiserver-client',
        expirationSeconds: 1800,
        usages: ['client auth'],
        creator: 'system:serviceaccount:airlock-system:airlock-broker',
        conditionTypes: ['Approved'],
      },
    });
  });

  it.each<[string, (b: Json) => void, RegExp]>([
    [
      'another apiVersion',
      (b) => {
        b.apiVersion = 'admission.k8s.io/v1beta1';
      },
      /apiVersion\/kind/,
    ],
    [
      'another resource',
      (b) => {
        b.request.resource.resource = 'pods';
      },
      /certificatesigningrequests\/approval/,
    ],
    [
      'the main resource',
      (b) => {
        delete b.request.subResource;
      },
      /certificatesigningrequests\/approval/,
    ],
    [
      'no object',
      (b) => {
        delete b.request.object;
      },
      /request\.object is not an object/,
    ],
    [
      'a non-base64 request',
      (b) => {
        b.request.object.spec.request = 'not base64!';
      },
      /is not base64/,
    ],
    [
      'a fractional TTL',
      (b) => {
        b.request.object.spec.expirationSeconds = 1.5;
      },
      /not an integer/,
    ],
    [
      'usages not a list',
      (b) => {
        b.request.object.spec.usages = 'client auth';
      },
      /usages is not a list/,
    ],
    [
      'a condition without type',
      (b) => {
        b.request.object.status.conditions = [{}];
      },
      /conditions\[0\]\.type/,
    ],
  ])('refuses %s (ADMISSION_REVIEW_INVALID)', (_, edit, message) => {
    const b = body();
    edit(b);
    expect(() => parseCsrApprovalReview(b)).toThrow(message);
  });

  it('fails only with ADMISSION_REVIEW_INVALID on arbitrary JSON, and on any mutation of a valid review', () => {
    const fails = (value: unknown) => {
      try {
        parseCsrApprovalReview(value);
      } catch (error) {
        if (!isAirlockError(error, 'ADMISSION_REVIEW_INVALID')) throw error;
      }
    };
    fc.assert(fc.property(fc.jsonValue(), fails), { numRuns: 500 });
    const paths = [
      ['request'],
      ['request', 'userInfo'],
      ['request', 'object', 'spec'],
      ['request', 'object', 'status'],
      ['request', 'object', 'metadata'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fc.string({ maxLength: 12 }),
        fc.jsonValue(),
        (path, key, value) => {
          const b = body();
          let target = b;
          for (const step of path) target = target[step];
          target[key] = value;
          fails(b);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('admissionResponse', () => {
  it('answers the uid; a refusal carries a 403 status with the message and the audit annotations', () => {
    expect(admissionResponse('u1', { allowed: true })).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u1', allowed: true },
    });
    expect(
      admissionResponse('u2', {
        allowed: false,
        message: 'TTL_TOO_LONG: too long',
        auditAnnotations: { code: 'TTL_TOO_LONG', reason: 'too long' },
      }),
    ).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u2',
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: 'TTL_TOO_LONG: too long' },
        auditAnnotations: { code: 'TTL_TOO_LONG', reason: 'too long' },
      },
    });
  });
});
