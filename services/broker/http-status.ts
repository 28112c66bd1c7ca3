/** The HTTP status of each error code the broker API answers with. */
import type { ErrorCode } from '../core/errors.js';

/** HTTP status for each code the API returns. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'CERT_MALFORMED':
    case 'X509_INVALID':
    case 'AUDIT_WITNESS_INVALID':
      return 400;
    case 'AUTH_REQUIRED':
    case 'AUTH_INVALID':
    case 'AUTH_EXPIRED':
    case 'AUTH_UNVERIFIED':
      return 401;
    case 'ACCESS_FORBIDDEN':
    case 'APPROVAL_NOT_ALLOWED':
    case 'REQUEST_DENIED':
    case 'PROFILE_UNKNOWN':
    case 'SCOPE_CLUSTER':
    case 'SCOPE_NAMESPACE':
    case 'SCOPE_POD':
    case 'SCOPE_CONTAINER':
    case 'SCOPE_RUNBOOK_STALE':
    case 'TTL_TOO_LONG':
    case 'CSR_SUBJECT_MISMATCH':
      return 403;
    case 'REQUEST_NOT_FOUND':
      return 404;
    case 'REQUEST_STATE':
    case 'REQUEST_EXPIRED':
      return 409;
    case 'AUDIT_UNAVAILABLE':
    case 'STORE_UNAVAILABLE':
      return 503;
    case 'KUBE_CERT_UNAVAILABLE':
      return 501;
    case 'KUBERNETES_ERROR':
      return 502;
    default:
      return 500;
  }
}
