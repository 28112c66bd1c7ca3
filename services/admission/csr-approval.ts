/**
 * Which client certificates an airlock identity (the broker; the executor in
 * `kubeCredentials: "csr"` mode) may approve: the rules of the CSR approval
 * webhook (docs/threat-model.md, "A compromised broker").
 *
 * Their RBAC lets them approve any CSR for the
 * `kubernetes.io/kube-apiserver-client` signer, and the apiserver itself
 * refuses only `O=system:masters` for it (the CertificateSubjectRestriction
 * admission plugin). The certificate's subject IS the identity (user = CN,
 * groups = every O), so without these rules a compromised broker could mint
 * `CN=system:kube-controller-manager` or `O=kubeadm:cluster-admins`. The
 * webhook runs in its own process, so it holds even when the broker does not.
 *
 * An approval is allowed only when all of these hold:
 * - the signer is `kubernetes.io/kube-apiserver-client` and the usages are
 *   `client auth` (optionally with `digital signature`, `key encipherment`);
 * - the approver created the object itself (`spec.username`);
 * - the CSR parses, has an ECDSA P-256 or Ed25519 key and a valid
 *   self-signature, and requests no subjectAltName;
 * - the subject is exactly one CN, a person's name: non-empty, no `:` (so
 *   no `system:` name and none of the `prefix:` forms that authenticators
 *   and airlock itself, `airlock:session`, reserve), no control characters;
 *   plus O values, each one of the `jit:` groups the policy renders for this
 *   cluster's namespaces, none repeated; no other attribute;
 * - `spec.expirationSeconds` is set and at most the policy's longest TTL
 *   (never below the CSR API's minimum of 600 s, which both callers ask for
 *   at least).
 * An update that approves nothing (no `Approved` condition, whatever its
 * status, e.g. a denial) is allowed.
 */
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { KUBE_CLIENT_SIGNER, MIN_KUBE_CERT_SECONDS } from '../core/kube/kube-csr.js';
import {
  type KubeCsrIdentity,
  readKubeCsrIdentity,
  SUBJECT_ALT_NAME,
} from '../core/kube/kube-csr-subject.js';
import { effectiveMaxTtl, type GroupUniverse, jitGroupNames, type Policy } from '../core/policy/index.js';
import type { AdmissionVerdict, CsrApprovalReview } from './admission-review.js';

/** What the webhook allows, derived once from the policy. */
export interface CsrApprovalRules {
  /** Every group an approved certificate may carry. */
  readonly groups: ReadonlySet<string>;
  /** The longest `expirationSeconds` an approved CSR may ask for. */
  readonly maxExpirationSeconds: number;
}

/** The rules for a policy and the cluster's served namespaces (as `airlock policy rbac` takes them). */
export function csrApprovalRules(policy: Policy, universe: GroupUniverse): CsrApprovalRules {
  const longest = Math.max(
    policy.limits.maxTtlSeconds,
    ...Object.values(policy.profiles).map((profile) => effectiveMaxTtl(policy, profile)),
  );
  return {
    groups: new Set(jitGroupNames(policy, universe)),
    maxExpirationSeconds: Math.max(MIN_KUBE_CERT_SECONDS, longest),
  };
}

const CLIENT_USAGES: ReadonlySet<string> = new Set(['client auth', 'digital signature', 'key encipherment']);
const PERSON_NAME = /^[^:\u0000-\u001f\u007f]{1,256}$/;

function refusal(code: ErrorCode, reason: string): AdmissionVerdict {
  return { allowed: false, message: `${code}: ${reason}`, auditAnnotations: { code, reason } };
}

function requestProblem(review: CsrApprovalReview, rules: CsrApprovalRules): AdmissionVerdict | undefined {
  const { csr } = review;
  if (csr.signerName !== KUBE_CLIENT_SIGNER) {
    return refusal(
      'CSR_APPROVAL_REFUSED',
      `signer ${JSON.stringify(csr.signerName)} is not ${KUBE_CLIENT_SIGNER}`,
    );
  }
  if (!csr.usages.includes('client auth') || csr.usages.some((u) => !CLIENT_USAGES.has(u))) {
    return refusal(
      'CSR_APPROVAL_REFUSED',
      `usages ${JSON.stringify(csr.usages)} are not a client certificate's`,
    );
  }
  if (csr.creator !== review.username) {
    return refusal(
      'CSR_APPROVAL_REFUSED',
      `${JSON.stringify(review.username)} may approve only its own CSRs; this one was created by ${JSON.stringify(csr.creator)}`,
    );
  }
  if (csr.expirationSeconds === undefined) {
    return refusal('TTL_TOO_LONG', 'expirationSeconds is not set (the signer would use its own maximum)');
  }
  if (csr.expirationSeconds > rules.maxExpirationSeconds) {
    return refusal(
      'TTL_TOO_LONG',
      `expirationSeconds ${csr.expirationSeconds} exceeds the policy's maximum of ${rules.maxExpirationSeconds}`,
    );
  }
  return undefined;
}

function subjectProblem(identity: KubeCsrIdentity, rules: CsrApprovalRules): AdmissionVerdict | undefined {
  const mismatch = (why: string) => refusal('CSR_SUBJECT_MISMATCH', `subject ${why}`);
  const { commonNames, organizations, otherAttributes, extensionOids } = identity;
  if (commonNames.length !== 1) return mismatch(`has ${commonNames.length} CN attributes, not 1`);
  const commonName = commonNames[0]!;
  if (!PERSON_NAME.test(commonName)) {
    return mismatch(
      `CN ${JSON.stringify(commonName)} is not a person's name (empty, ":", or control characters)`,
    );
  }
  if (otherAttributes.length > 0) return mismatch(`carries other attributes (${otherAttributes.join(', ')})`);
  if (new Set(organizations).size !== organizations.length) return mismatch('repeats an O attribute');
  const foreign = organizations.filter((o) => !rules.groups.has(o));
  if (foreign.length > 0) {
    return mismatch(
      `O ${foreign.map((o) => JSON.stringify(o)).join(', ')} is not a group the policy renders`,
    );
  }
  if (extensionOids.includes(SUBJECT_ALT_NAME)) {
    return refusal('CSR_APPROVAL_REFUSED', 'the CSR requests a subjectAltName');
  }
  return undefined;
}

/**
 * Decides one review. Never throws: a CSR that cannot be read is refused
 * with its `X509_INVALID` reason.
 */
export async function decideCsrApproval(
  review: CsrApprovalReview,
  rules: CsrApprovalRules,
): Promise<AdmissionVerdict> {
  if (!review.csr.conditionTypes.includes('Approved')) return { allowed: true };
  const problem = requestProblem(review, rules);
  if (problem) return problem;
  let identity: KubeCsrIdentity;
  try {
    identity = await readKubeCsrIdentity(review.csr.requestPem);
  } catch (error) {
    const failure = error instanceof AirlockError ? error : new AirlockError('X509_INVALID', String(error));
    return refusal(failure.code, failure.message);
  }
  return subjectProblem(identity, rules) ?? { allowed: true };
}
