/**
 * Exit statuses for every code of the catalogue, and the stderr line.
 */
import { describe, expect, it } from 'vitest';
import { AirlockError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { EXIT_CODES, exitCodeFor, formatError } from './exit-codes.js';

/**
 * The decided status of every code. A code added to the catalogue without a
 * row here fails 'covers every catalogue code', so someone has to decide.
 */
const EXPECTED: Readonly<Record<string, number>> = {
  CERT_MALFORMED: 65,
  CERT_UNTRUSTED_CA: 65,
  CERT_BAD_CA_SIGNATURE: 65,
  CERT_NOT_USER: 65,
  CERT_NOT_YET_VALID: 65,
  CERT_EXPIRED: 65,
  CERT_PRINCIPAL_MISMATCH: 65,
  CERT_SOURCE_ADDRESS: 65,
  CERT_UNKNOWN_CRITICAL_OPTION: 65,
  CERT_REVOKED: 65,
  CERT_BAD_SIGNATURE: 65,
  CERT_SCOPE_INVALID: 65,
  CERT_REQUIRED: 65,
  CERT_LIFETIME_EXCEEDS_POLICY: 65,
  CERT_SIGNATURE_REPLAYED: 65,
  CERT_PREDATES_REPLAY_RECORD: 65,
  CA_KEY_EXISTS: 70,
  CA_ROTATION_STATE: 70,
  CA_RETIRE_TOO_EARLY: 70,
  CERT_KEY_MISMATCH: 65,
  CERT_REQUEST_MISMATCH: 65,
  POLICY_INVALID: 70,
  SCOPE_CLUSTER: 77,
  SCOPE_NAMESPACE: 77,
  SCOPE_POD: 77,
  ACTION_NOT_ALLOWED: 77,
  COMMAND_NOT_ALLOWED: 77,
  COMMAND_DENIED: 77,
  PORT_NOT_ALLOWED: 77,
  IMAGE_NOT_ALLOWED: 77,
  SHELL_NOT_ALLOWED: 77,
  PROFILE_UNKNOWN: 77,
  TTL_TOO_LONG: 70,
  REQUEST_DENIED: 70,
  SCOPE_RUNBOOK: 77,
  SCOPE_RUNBOOK_STALE: 77,
  SCOPE_CONTAINER: 77,
  MODERATOR_ONLY: 77,
  MODERATION_REJECTED: 77,
  MODERATION_TERMINATED: 77,
  MODERATION_UNAPPROVED: 77,
  USAGE: 64,
  CONFIG_INVALID: 70,
  CLUSTER_GO_MISSING: 70,
  CLUSTER_BUILD_FAILED: 70,
  CLUSTER_START_FAILED: 70,
  IMAGE_BUILD_FAILED: 70,
  REAL_NODE_UNAVAILABLE: 70,
  EXECUTOR_UNAVAILABLE: 69,
  EXECUTOR_SHUTDOWN: 69,
  GRANT_INVALID: 65,
  SESSION_UNKNOWN: 65,
  // Too many sessions for one user (the mediator refuses at login).
  LIMIT_EXCEEDED: 70,
  RBAC_DENIED: 77,
  KUBERNETES_FORBIDDEN: 77,
  KUBERNETES_NOT_FOUND: 70,
  KUBERNETES_ERROR: 69,
  KUBERNETES_UNAVAILABLE: 69,
  OUTPUT_INCOMPLETE: 69,
  SESSION_EXPIRED: 78,
  AUDIT_UNAVAILABLE: 69,
  INTERNAL: 70,
  X509_INVALID: 70,
  X509_UNTRUSTED: 70,
  X509_EXPIRED: 70,
  X509_NOT_YET_VALID: 70,
  X509_WRONG_USAGE: 70,
  X509_WRONG_TIER: 70,
  AUDIT_TAMPERED: 70,
  AUDIT_KEY_EXISTS: 70,
  // Broker (HTTP API) codes: never the outcome of an SSH command.
  AUTH_REQUIRED: 70,
  AUTH_INVALID: 70,
  AUTH_EXPIRED: 70,
  AUTH_UNVERIFIED: 70,
  ACCESS_FORBIDDEN: 70,
  REQUEST_NOT_FOUND: 70,
  REQUEST_STATE: 70,
  REQUEST_EXPIRED: 70,
  APPROVAL_NOT_ALLOWED: 70,
  CSR_SUBJECT_MISMATCH: 70,
  KUBE_CERT_UNAVAILABLE: 70,
  // The executor could not get the session its own Kubernetes certificate (csr mode).
  KUBE_CREDENTIALS_UNAVAILABLE: 69,
  CLIENT_CANCELLED: 70,
  // `airlock dev up --kubeconfig` codes: never the outcome of an SSH command.
  DEV_KUBECONFIG_INVALID: 70,
  DEV_CLUSTER_UNREACHABLE: 70,
  CSR_APPROVAL_REFUSED: 70,
  ADMISSION_REVIEW_INVALID: 70,
  STORE_UNAVAILABLE: 70,
  // The executor's own configuration: not the user's to fix.
  KUBECONFIG_INVALID: 70,
  // The broker's launcher: recorded on the request, never an SSH command's outcome.
  LAUNCH_FAILED: 70,
  // The jump door's channel-open refusals: a reason text, never an SSH command's exit status.
  MEDIATOR_NOT_READY: 70,
  DOOR_SESSION_REFUSED: 70,
  DOOR_DESTINATION_REFUSED: 70,
  // Four-eyes sessions: a refused join is a denial; a dropped watcher may join again.
  SESSION_JOIN_REFUSED: 77,
  OBSERVER_DROPPED: 69,
  OBSERVER_READ_ONLY: 77,
  // Audit trails and recordings (`airlock audit verify`, `airlock audit replay`): never an SSH command's outcome.
  AUDIT_TAIL_MISMATCH: 70,
  AUDIT_LINE_MALFORMED: 70,
  AUDIT_HASH_MISMATCH: 70,
  AUDIT_CHAIN_BROKEN: 70,
  AUDIT_SEQ_GAP: 70,
  AUDIT_SEQ_REUSED: 70,
  AUDIT_TIME_BACKWARDS: 70,
  AUDIT_SIGNATURE_INVALID: 70,
  AUDIT_TRUNCATED: 70,
  AUDIT_ROTATION_BROKEN: 70,
  AUDIT_EMPTY: 70,
  AUDIT_UNSIGNED_TAIL: 70,
  // audit verify/reconcile findings, and a malformed head at OpenSession: not the SSH user's to fix.
  AUDIT_WITNESS_MISMATCH: 70,
  AUDIT_WITNESS_INVALID: 70,
  AUDIT_ORPHAN: 70,
  ASCIICAST_MALFORMED: 70,
};

const CATALOGUE: readonly ErrorCode[] = ERROR_CODES;

describe('exitCodeFor', () => {
  it('covers every catalogue code', () => {
    const undecided = CATALOGUE.filter((code) => !Object.hasOwn(EXPECTED, code));
    expect(undecided).toEqual([]);
  });

  it.each(CATALOGUE)('%s', (code) => {
    expect(exitCodeFor(code)).toBe(EXPECTED[code]);
  });

  it('uses the sysexits values', () => {
    expect(Object.entries(EXIT_CODES)).toEqual([
      ['OK', 0],
      ['USAGE', 64],
      ['AUTHENTICATION', 65],
      ['UNAVAILABLE', 69],
      ['INTERNAL', 70],
      ['DENIED', 77],
      ['SESSION_EXPIRED', 78],
    ]);
  });
});

describe('formatError', () => {
  it('writes one text line with the code', () => {
    expect(formatError(new AirlockError('SCOPE_POD', 'pod db-0 is outside your scope'), 'text')).toBe(
      'airlock: SCOPE_POD: pod db-0 is outside your scope\n',
    );
  });

  it('keeps a usage hint on its own line', () => {
    expect(formatError(new AirlockError('USAGE', 'logs: missing pod\nusage: logs POD'), 'text')).toBe(
      'airlock: USAGE: logs: missing pod\nusage: logs POD\n',
    );
  });

  it('writes one JSON line', () => {
    expect(formatError(new AirlockError('SESSION_EXPIRED', 'session expired'), 'json')).toBe(
      '{"code":"SESSION_EXPIRED","message":"session expired"}\n',
    );
  });

  it('never shows detail or cause', () => {
    const error = new AirlockError('INTERNAL', 'internal error', {
      detail: 'secret path',
      cause: new Error('x'),
    });
    expect(formatError(error, 'text')).toBe('airlock: INTERNAL: internal error\n');
    expect(formatError(error, 'json')).toBe('{"code":"INTERNAL","message":"internal error"}\n');
  });

  it('neutralizes terminal escapes in both forms', () => {
    const error = new AirlockError('KUBERNETES_ERROR', 'pod \x1b]0;pwned\x07 \x9b2J\x7f');
    expect(formatError(error, 'text')).toBe(
      'airlock: KUBERNETES_ERROR: pod \\x1b]0;pwned\\x07 \\x9b2J\\x7f\n',
    );
    const json = formatError(error, 'json');
    expect(json).toBe(
      '{"code":"KUBERNETES_ERROR","message":"pod \\u001b]0;pwned\\u0007 \\u009b2J\\u007f"}\n',
    );
    expect(JSON.parse(json).message).toBe(error.message);
  });
});
