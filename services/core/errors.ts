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
  /** The certificate's validity (valid_after to valid_before) is longer than the policy's max TTL for its profile, or never ends. */
  'CERT_LIFETIME_EXCEEDS_POLICY',
  /** Executor: this login signature (the same signed userauth request) already opened a session; each is accepted once. */
  'CERT_SIGNATURE_REPLAYED',
  /** Executor: the certificate was valid before this executor's record of used signatures begins (its state was lost); request a new certificate. */
  'CERT_PREDATES_REPLAY_RECORD',
  /** `airlock cert`: the key file named (or remembered, or the default) is not the key the certificate certifies; nothing written. */
  'CERT_KEY_MISMATCH',
  /**
   * Ephemeral mode: the certificate is for another access request than the one this mediator pod
   * was launched for (mediator config `requestId`); reach your own request's mediator (`ssh <request-id>`).
   */
  'CERT_REQUEST_MISMATCH',
] as const;

/** The SSH user CA's keys and keyring (`airlock ca`, services/core/ca-keyring). */
export const CA_CODES = [
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
  /** A runbook session asked for something other than one of its runbook's steps. */
  'SCOPE_RUNBOOK',
  /**
   * The certificate names a runbook the policy no longer has, no longer
   * offers with the profile, or whose steps changed since it was issued.
   */
  'SCOPE_RUNBOOK_STALE',
  /** The container (`-c`) is outside the profile's or the session's container patterns. */
  'SCOPE_CONTAINER',
  /** A moderator certificate (scope `moderator`) asked to act: it may only join and moderate sessions. */
  'MODERATOR_ONLY',
  /** A moderator answered `n` to this command of a moderated session (approve-each-command). */
  'MODERATION_REJECTED',
  /** A moderator terminated this moderated session; the owner's commands end. */
  'MODERATION_TERMINATED',
  /** Executor: an intent of a moderated session arrived without the mediator's moderator approval. */
  'MODERATION_UNAPPROVED',
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
  /**
   * An exec's output cannot be confirmed complete: Kubernetes reported
   * success, but the output was held back by a slow reader while the API
   * server could drop its tail (docs/executor.md, "Known Kubernetes
   * limitation"). Every byte that arrived was passed on; retry, or read faster.
   */
  'OUTPUT_INCOMPLETE',
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
  /** Broker: the ID token's user name claim is not verified by the identity provider (`email_verified` is not true). */
  'AUTH_UNVERIFIED',
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
  /**
   * Broker: a Kubernetes client CSR's subject is not CN=<requester>, O=<exactly the scope's jit: groups>.
   * CSR approval webhook: the subject is not CN=<a person> (no `:`), O ⊆ the policy's `jit:` groups.
   */
  'CSR_SUBJECT_MISMATCH',
  /** Broker: Kubernetes client certificates are not configured on this broker (no `kubeCertificates`). */
  'KUBE_CERT_UNAVAILABLE',
  /** Executor (`kubeCredentials: "csr"`): no per-session client certificate (CSR refused, denied, not signed in time, or a system: user). */
  'KUBE_CREDENTIALS_UNAVAILABLE',
  /** `airlock dev up --kubeconfig`: the file cannot be read or has no usable current context. */
  'DEV_KUBECONFIG_INVALID',
  /** `airlock dev up --kubeconfig` / `dev down`: the cluster's API server does not answer. */
  'DEV_CLUSTER_UNREACHABLE',
  /**
   * CSR approval webhook (services/admission): an airlock identity may not approve this
   * CertificateSigningRequest (another signer, other usages, not its own, a subjectAltName).
   */
  'CSR_APPROVAL_REFUSED',
  /** CSR approval webhook: the AdmissionReview is malformed or not for `certificatesigningrequests/approval`. */
  'ADMISSION_REVIEW_INVALID',
  /** Broker: the request store (SQLite file or PostgreSQL server) cannot be reached or refused the operation; nothing was changed. */
  'STORE_UNAVAILABLE',
  /** Executor: its kubeconfig has no usable current cluster (no server to call). */
  'KUBECONFIG_INVALID',
  /**
   * Broker (ephemeral tiers, services/broker/launcher): Kubernetes refused to create the
   * request's mediator/executor pods or their objects (quota, admission, RBAC); the reason
   * is recorded on the request and audited as `tiers.launched` with decision deny.
   */
  'LAUNCH_FAILED',
  /**
   * Jump door (services/mediator/door): the mediator of the certificate's request has no Service yet, or does
   * not accept connections, within the door's wait bound (`mediatorReadySeconds`); try again shortly.
   */
  'MEDIATOR_NOT_READY',
  /** Jump door: it offers no shell, command, subsystem or pty; use it as `ssh -J door <request-id>`. */
  'DOOR_SESSION_REFUSED',
  /** Jump door: a `direct-tcpip` destination other than the certificate's own request (`<requestId>` port 22). */
  'DOOR_DESTINATION_REFUSED',
  /**
   * Mediator `join`: no live session with this id that the certificate's
   * moderator role covers, or the caller owns it. One code for all, so ids
   * cannot be probed.
   */
  'SESSION_JOIN_REFUSED',
  /**
   * Mediator: a watcher of a live session held the owner's output past its
   * stall budget and was dropped (output-fanout.ts).
   */
  'OBSERVER_DROPPED',
  /**
   * Mediator `join`: an observer (a certificate whose moderator role is
   * `observer`) tried to approve, reject or terminate; observers only watch.
   */
  'OBSERVER_READ_ONLY',
] as const;

/**
 * Audit trails (services/core/audit, docs/audit.md): why a trail will not
 * reopen, and one code per kind of problem `airlock audit verify` reports
 * (the summary is AUDIT_TAMPERED).
 */
export const AUDIT_CODES = [
  /** The trail file no longer holds the last checkpoint its head file records (cut back, replaced or removed): the tier refuses to continue it. */
  'AUDIT_TAIL_MISMATCH',
  /** verify `malformed`: a line is not UTF-8 JSON (or starts with a byte order mark), not a record, or not canonical. */
  'AUDIT_LINE_MALFORMED',
  /** verify `hash`: a record does not match its hash (edited). */
  'AUDIT_HASH_MISMATCH',
  /** verify `chain`: a record's prev is not the previous record's hash. */
  'AUDIT_CHAIN_BROKEN',
  /** verify `order`: seq skips forward (records missing). */
  'AUDIT_SEQ_GAP',
  /** verify `seq-reused`: seq repeats or goes back (records replayed, or a cut trail continued). */
  'AUDIT_SEQ_REUSED',
  /** verify `time`: a record's time is before its predecessor's, or not a timestamp. */
  'AUDIT_TIME_BACKWARDS',
  /** verify `signature`: a checkpoint's signature is invalid, by an unknown key, or does not describe the record before it. */
  'AUDIT_SIGNATURE_INVALID',
  /** verify `truncated`: an unterminated last line, or (--require-closed) no close checkpoint at the end. */
  'AUDIT_TRUNCATED',
  /** verify `rotation`: a rotate checkpoint is not the last record of its file, or a file followed by another does not end with one. */
  'AUDIT_ROTATION_BROKEN',
  /** verify `empty`: a file holds nothing (other than the newly started file after a rotation). */
  'AUDIT_EMPTY',
  /** verify `unsigned-tail` (with --require-signed or --require-closed): records after the last signed checkpoint. */
  'AUDIT_UNSIGNED_TAIL',
  /** verify `witness`: a checkpoint another tier witnessed (a `checkpoint.witnessed` record) is not in the witnessed trail given: that trail was cut back and re-signed, or replaced, after the head was witnessed. */
  'AUDIT_WITNESS_MISMATCH',
  /** A tier received a checkpoint head to witness that is not a well-formed, correctly hashed checkpoint record; it is not recorded and the call is refused. */
  'AUDIT_WITNESS_INVALID',
  /** audit reconcile: a Kubernetes exec/attach/port-forward/ephemeral-container event without an authorizing airlock intent, or an allowed intent the API server never saw. */
  'AUDIT_ORPHAN',
  /** A session recording is not valid asciicast v2 (services/core/audit/asciicast.ts). */
  'ASCIICAST_MALFORMED',
] as const;

export type ErrorCode =
  | (typeof CERT_CODES)[number]
  | (typeof CA_CODES)[number]
  | (typeof POLICY_CODES)[number]
  | (typeof SYSTEM_CODES)[number]
  | (typeof AUDIT_CODES)[number];

/** Every code of the catalogue, group by group. */
export const ERROR_CODES: readonly ErrorCode[] = [
  ...CERT_CODES,
  ...CA_CODES,
  ...POLICY_CODES,
  ...SYSTEM_CODES,
  ...AUDIT_CODES,
];

const ALL_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** The policy codes that deny no intent: a broken policy, and the broker's request decisions. */
const NOT_INTENT_DENIALS = ['POLICY_INVALID', 'TTL_TOO_LONG', 'REQUEST_DENIED'] as const;
export type PolicyDenialCode = Exclude<(typeof POLICY_CODES)[number], (typeof NOT_INTENT_DENIALS)[number]>;

/**
 * The codes `authorizeIntent` (services/core/policy/authorize.ts) denies an
 * intent with: the policy or the certificate's scope said no. Such a denial
 * is audited once, as `intent.denied`, where it is decided; a caller that
 * catches it must not audit it again as a failure.
 */
export const POLICY_DENIAL_CODES: readonly PolicyDenialCode[] = POLICY_CODES.filter(
  (code): code is PolicyDenialCode => !(NOT_INTENT_DENIALS as readonly string[]).includes(code),
);

const POLICY_DENIALS: ReadonlySet<string> = new Set(POLICY_DENIAL_CODES);

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

/** True when `error` is an intent denial by policy or scope (one of {@link POLICY_DENIAL_CODES}). */
export function isPolicyDenial(error: unknown): error is AirlockError & { readonly code: PolicyDenialCode } {
  return error instanceof AirlockError && POLICY_DENIALS.has(error.code);
}

export function isAirlockError(value: unknown, code?: ErrorCode): value is AirlockError {
  return value instanceof AirlockError && (code === undefined || value.code === code);
}
