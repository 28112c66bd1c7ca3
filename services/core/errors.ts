/**
 * The one error type of airlock and its catalogue of stable codes.
 *
 * A code is part of the public contract: users see it on stderr, runbooks
 * branch on it, audit records carry it, and gRPC trailers transport it. Codes
 * are never renamed; new ones are appended to their group.
 *
 * Following ContainerSSH's `message.Wrap(cause, CODE, ...)` and undici's typed
 * errors: `message` is the short reason shown to the user, `detail` is the
 * operator-only explanation (logged, never sent to the client), and `cause`
 * keeps the underlying error.
 */

/** OpenSSH certificate verification (services/core/ssh-cert). */
export const CERT_CODES = [
  'CERT_MALFORMED',
  'CERT_UNTRUSTED_CA',
  'CERT_BAD_CA_SIGNATURE',
  'CERT_NOT_USER',
  'CERT_NOT_YET_VALID',
  'CERT_EXPIRED',
  'CERT_PRINCIPAL_MISMATCH',
  'CERT_SOURCE_ADDRESS',
  'CERT_UNKNOWN_CRITICAL_OPTION',
  'CERT_REVOKED',
  'CERT_BAD_SIGNATURE',
  'CERT_SCOPE_INVALID',
  'CERT_REQUIRED',
  /** `airlock ca init` refused to overwrite an existing CA key. */
  'CA_KEY_EXISTS',
  /** `airlock ca rotate`: the step does not fit the keyring (nothing to switch to, retiring the signer, unknown key). */
  'CA_ROTATION_STATE',
  /** `airlock ca rotate … retire`: the old CA may still have live credentials; wait, or --force. */
  'CA_RETIRE_TOO_EARLY',
] as const;

/** Policy evaluation (services/core/policy). */
export const POLICY_CODES = [
  'POLICY_INVALID',
  'SCOPE_CLUSTER',
  'SCOPE_NAMESPACE',
  'SCOPE_POD',
  'ACTION_NOT_ALLOWED',
  'COMMAND_NOT_ALLOWED',
  'COMMAND_DENIED',
  'PORT_NOT_ALLOWED',
  'IMAGE_NOT_ALLOWED',
  'SHELL_NOT_ALLOWED',
  'PROFILE_UNKNOWN',
  'TTL_TOO_LONG',
  'REQUEST_DENIED',
] as const;

/** Infrastructure, configuration and usage. */
export const SYSTEM_CODES = [
  'USAGE',
  'CONFIG_INVALID',
  'CLUSTER_GO_MISSING',
  'CLUSTER_BUILD_FAILED',
  'CLUSTER_START_FAILED',
  /** `airlock dev images`: the local base or an app image could not be built (Docker, debootstrap, npm). */
  'IMAGE_BUILD_FAILED',
  /**
   * `airlock dev cluster --node real`: a real node cannot run here (not root, containerd, runc or
   * the CNI plugins missing, or another real node already runs on this machine).
   */
  'REAL_NODE_UNAVAILABLE',
  'EXECUTOR_UNAVAILABLE',
  'EXECUTOR_SHUTDOWN',
  'GRANT_INVALID',
  'SESSION_UNKNOWN',
  'LIMIT_EXCEEDED',
  'CLIENT_CANCELLED',
  'RBAC_DENIED',
  'KUBERNETES_FORBIDDEN',
  'KUBERNETES_NOT_FOUND',
  'KUBERNETES_ERROR',
  /**
   * The Kubernetes API cannot be reached: connection refused or reset, no
   * answer within the executor's timeout, or a stream's connection lost.
   */
  'KUBERNETES_UNAVAILABLE',
  'SESSION_EXPIRED',
  'AUDIT_UNAVAILABLE',
  'INTERNAL',
  /** X.509 credentials (services/core/x509): not parseable or malformed. */
  'X509_INVALID',
  /** X.509: not issued (or not validly signed) by a trusted CA that may issue. */
  'X509_UNTRUSTED',
  /** X.509: the certificate or its CA is past notAfter. */
  'X509_EXPIRED',
  /** X.509: the certificate or its CA is before notBefore. */
  'X509_NOT_YET_VALID',
  /** X.509: the certificate is not for this use (EKU, or a CA presented as a leaf). */
  'X509_WRONG_USAGE',
  /** X.509: issued by another airlock tier's CA than the one expected. */
  'X509_WRONG_TIER',
  /** `airlock audit verify` found problems in a trail (edited, deleted, reordered, truncated or unsigned records). */
  'AUDIT_TAMPERED',
  /** `airlock audit keygen` refused to overwrite an existing audit signing key. */
  'AUDIT_KEY_EXISTS',
  /** Broker: the call carries no bearer token. */
  'AUTH_REQUIRED',
  /** Broker: the token is not valid (signature, issuer, audience, malformed, TokenReview refused). */
  'AUTH_INVALID',
  /** Broker: the token has expired; log in again. */
  'AUTH_EXPIRED',
  /** Broker: the caller may not see or act on this access request. */
  'ACCESS_FORBIDDEN',
  /** Broker: no access request with this id. */
  'REQUEST_NOT_FOUND',
  /** Broker: the access request is not in a state that allows this (e.g. approve twice, cert before approval). */
  'REQUEST_STATE',
  /** Broker: the access request (pending or granted) has expired. */
  'REQUEST_EXPIRED',
  /** Broker: policy refuses this approval (self-approval, approver not in group, approved twice). */
  'APPROVAL_NOT_ALLOWED',
  /** Broker: a Kubernetes client CSR's subject is not CN=<requester>, O=<exactly the scope's jit: groups>. */
  'CSR_SUBJECT_MISMATCH',
  /** Broker: Kubernetes client certificates are not configured on this broker (no `kubeCertificates`). */
  'KUBE_CERT_UNAVAILABLE',
  /** Executor (`kubeCredentials: "csr"`): no per-session client certificate (CSR refused, denied, not signed in time, or a system: user). */
  'KUBE_CREDENTIALS_UNAVAILABLE',
  /** `airlock dev up --kubeconfig`: the file cannot be read or has no usable current context. */
  'DEV_KUBECONFIG_INVALID',
  /** `airlock dev up --kubeconfig` / `dev down`: the cluster's API server does not answer. */
  'DEV_CLUSTER_UNREACHABLE',
] as const;

export type ErrorCode =
  | (typeof CERT_CODES)[number]
  | (typeof POLICY_CODES)[number]
  | (typeof SYSTEM_CODES)[number];

const ALL_CODES: ReadonlySet<string> = new Set([...CERT_CODES, ...POLICY_CODES, ...SYSTEM_CODES]);

/** True when `value` is one of the catalogue's codes (for codes read off the wire). */
export function isErrorCode(value: string): value is ErrorCode {
  return ALL_CODES.has(value);
}

export interface AirlockErrorOptions {
  /** Operator-only explanation; goes to logs, never to the client. */
  detail?: string;
  cause?: unknown;
}

export class AirlockError extends Error {
  override readonly name = 'AirlockError';
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options: AirlockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options.detail;
  }
}

export function isAirlockError(value: unknown, code?: ErrorCode): value is AirlockError {
  return value instanceof AirlockError && (code === undefined || value.code === code);
}
