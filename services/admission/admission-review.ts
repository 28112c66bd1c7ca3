/**
 * The `admission.k8s.io/v1` AdmissionReview wire format, as far as the CSR
 * approval webhook needs it (Kubernetes docs, "Dynamic Admission Control" →
 * "Webhook request and response"): reading a request for an UPDATE of
 * `certificates.k8s.io/v1` `certificatesigningrequests/approval`, and
 * writing the response.
 *
 * The body comes from the API server over TLS, but it is still parsed as
 * untrusted input: every field read is type-checked, and anything this
 * webhook was not registered for is refused (`ADMISSION_REVIEW_INVALID`)
 * rather than allowed.
 */
import { AirlockError } from '../core/errors.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The parts of a CertificateSigningRequest the approval rules read. */
export interface ReviewedCsr {
  readonly name: string;
  /** `spec.request`, decoded: the PKCS#10 PEM text. */
  readonly requestPem: string;
  readonly signerName: string;
  /** `spec.expirationSeconds`; undefined when absent (the signer's own maximum then applies). */
  readonly expirationSeconds: number | undefined;
  readonly usages: readonly string[];
  /** `spec.username`: who created the object (set by the API server). */
  readonly creator: string;
  /**
   * Every `status.conditions[].type`, whatever its `status`: the signing
   * controllers treat any `Approved` condition as approval
   * (kubernetes pkg/controller/certificates, `GetCertApprovalCondition`).
   */
  readonly conditionTypes: readonly string[];
}

/** One review request for `certificatesigningrequests/approval`. */
export interface CsrApprovalReview {
  readonly uid: string;
  readonly operation: string;
  /** `request.userInfo.username`: who is approving. */
  readonly username: string;
  readonly csr: ReviewedCsr;
}

/** What the webhook answers. */
export interface AdmissionVerdict {
  readonly allowed: boolean;
  /** Shown by the API server to the caller as `admission webhook "…" denied the request: <message>`. */
  readonly message?: string;
  /** Recorded in the Kubernetes audit event as `<webhook name>/<key>`. */
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

const MAX_STRING = 64 * 1024;

function invalid(why: string): AirlockError {
  return new AirlockError('ADMISSION_REVIEW_INVALID', `not a CSR approval review: ${why}`);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${path} is not an object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, path: string, optional = false): string {
  if (value === undefined && optional) return '';
  if (typeof value !== 'string' || value.length > MAX_STRING) throw invalid(`${path} is not a string`);
  return value;
}

function list(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${path} is not a list`);
  return value;
}

/** Strict base64 (the JSON encoding of a Go `[]byte`), decoded as text. */
function base64Text(value: unknown, path: string): string {
  const encoded = text(value, path);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
    throw invalid(`${path} is not base64`);
  return Buffer.from(encoded, 'base64').toString('latin1');
}

function readCsr(object: Record<string, unknown>): ReviewedCsr {
  const metadata = record(object.metadata, 'request.object.metadata');
  const spec = record(object.spec, 'request.object.spec');
  const status = object.status === undefined ? {} : record(object.status, 'request.object.status');
  const expiration = spec.expirationSeconds;
  if (expiration !== undefined && expiration !== null && !Number.isSafeInteger(expiration)) {
    throw invalid('request.object.spec.expirationSeconds is not an integer');
  }
  const conditionTypes = list(status.conditions, 'request.object.status.conditions').map((raw, index) =>
    text(
      record(raw, `request.object.status.conditions[${index}]`).type,
      `request.object.status.conditions[${index}].type`,
    ),
  );
  return {
    name: text(metadata.name, 'request.object.metadata.name'),
    requestPem: base64Text(spec.request, 'request.object.spec.request'),
    signerName: text(spec.signerName, 'request.object.spec.signerName'),
    expirationSeconds: typeof expiration === 'number' ? expiration : undefined,
    usages: list(spec.usages, 'request.object.spec.usages').map((u, i) =>
      text(u, `request.object.spec.usages[${i}]`),
    ),
    creator: text(spec.username, 'request.object.spec.username', true),
    conditionTypes,
  };
}

/**
 * Reads an AdmissionReview body. Throws `ADMISSION_REVIEW_INVALID` unless it
 * is a v1 review of `certificates.k8s.io/v1` `certificatesigningrequests`,
 * subresource `approval`, with the object present.
 */
export function parseCsrApprovalReview(body: unknown): CsrApprovalReview {
  const review = record(body, 'body');
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== 'AdmissionReview') {
    throw invalid(`apiVersion/kind is not ${ADMISSION_API_VERSION} AdmissionReview`);
  }
  const request = record(review.request, 'request');
  const resource = record(request.resource, 'request.resource');
  if (
    resource.group !== 'certificates.k8s.io' ||
    resource.version !== 'v1' ||
    resource.resource !== 'certificatesigningrequests' ||
    request.subResource !== 'approval'
  ) {
    throw invalid('not certificates.k8s.io/v1 certificatesigningrequests/approval');
  }
  const userInfo = record(request.userInfo, 'request.userInfo');
  return {
    uid: text(request.uid, 'request.uid'),
    operation: text(request.operation, 'request.operation'),
    username: text(userInfo.username, 'request.userInfo.username'),
    csr: readCsr(record(request.object, 'request.object')),
  };
}

/** The response body for a review `uid`. */
export function admissionResponse(uid: string, verdict: AdmissionVerdict): object {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: verdict.allowed,
      ...(verdict.allowed
        ? {}
        : { status: { code: 403, reason: 'Forbidden', message: verdict.message ?? '' } }),
      ...(verdict.auditAnnotations ? { auditAnnotations: { ...verdict.auditAnnotations } } : {}),
    },
  };
}
