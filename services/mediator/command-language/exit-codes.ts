/**
 * SSH exit statuses of the mediator and the one place an AirlockError becomes
 * what the user sees on stderr.
 *
 * Values follow BSD sysexits(3), so scripts can tell "fix your command" (64)
 * from "not allowed" (77) from "try again later" (69). exec and shell pass
 * the remote command's own status through unchanged; these apply when the
 * mediator itself ends the command.
 */

import { jsonForTerminal, sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import type { AirlockError, ErrorCode } from '../../core/errors.js';

export const EXIT_CODES = {
  /** Success (exec/shell: the remote command's own status is passed through instead). */
  OK: 0,
  /** EX_USAGE: the command line was wrong. */
  USAGE: 64,
  /** EX_DATAERR: the certificate or session credentials were not acceptable. */
  AUTHENTICATION: 65,
  /** EX_UNAVAILABLE: the executor, Kubernetes or the audit trail is unavailable. */
  UNAVAILABLE: 69,
  /** EX_SOFTWARE: an internal error. */
  INTERNAL: 70,
  /** EX_NOPERM: denied by policy, scope or RBAC. */
  DENIED: 77,
  /** EX_CONFIG: the session (certificate or grant) has expired; get a new certificate. */
  SESSION_EXPIRED: 78,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

const { USAGE, AUTHENTICATION, UNAVAILABLE, INTERNAL, DENIED, SESSION_EXPIRED } = EXIT_CODES;

/**
 * Families by prefix: every certificate problem is an authentication
 * failure, every scope or command refusal a denial, including codes appended
 * to those families later.
 */
const EXIT_CODE_BY_PREFIX: readonly (readonly [string, ExitCode])[] = [
  ['CERT_', AUTHENTICATION],
  ['SCOPE_', DENIED],
  ['COMMAND_', DENIED],
  ['MODERAT', DENIED],
];

/**
 * The other codes with a status other than INTERNAL. Everything else
 * (config, CLI and broker codes, the tiers' X.509 credentials) is not the
 * user's to fix on an SSH session and maps to INTERNAL. exit-codes.test.ts
 * lists every catalogue code with its expected status, so a new code fails
 * that test until someone decides.
 */
const EXIT_CODE_BY_ERROR: Readonly<Partial<Record<ErrorCode, ExitCode>>> = {
  ACTION_NOT_ALLOWED: DENIED,
  PORT_NOT_ALLOWED: DENIED,
  IMAGE_NOT_ALLOWED: DENIED,
  SHELL_NOT_ALLOWED: DENIED,
  PROFILE_UNKNOWN: DENIED,

  USAGE: USAGE,
  EXECUTOR_UNAVAILABLE: UNAVAILABLE,
  EXECUTOR_SHUTDOWN: UNAVAILABLE,
  GRANT_INVALID: AUTHENTICATION,
  SESSION_UNKNOWN: AUTHENTICATION,
  RBAC_DENIED: DENIED,
  // The API server's 403 for the impersonated user is an RBAC denial too.
  KUBERNETES_FORBIDDEN: DENIED,
  KUBERNETES_ERROR: UNAVAILABLE,
  KUBE_CREDENTIALS_UNAVAILABLE: UNAVAILABLE,
  KUBERNETES_UNAVAILABLE: UNAVAILABLE,
  // Retry (perhaps reading faster): the command ran, its output's end may be missing.
  OUTPUT_INCOMPLETE: UNAVAILABLE,
  SESSION_EXPIRED: SESSION_EXPIRED,
  AUDIT_UNAVAILABLE: UNAVAILABLE,
  SESSION_JOIN_REFUSED: DENIED,
  OBSERVER_DROPPED: UNAVAILABLE,
  OBSERVER_READ_ONLY: DENIED,
};

/** The SSH exit status for a command the mediator ended with `code`. */
export function exitCodeFor(code: ErrorCode): ExitCode {
  return (
    EXIT_CODE_BY_ERROR[code] ??
    EXIT_CODE_BY_PREFIX.find(([prefix]) => code.startsWith(prefix))?.[1] ??
    INTERNAL
  );
}

/**
 * The stderr text for an error: `airlock: CODE: message\n` (continuation
 * lines of a multi-line message, such as a usage hint, follow as they are),
 * or one line of JSON `{"code":"...","message":"..."}\n`. Only `message` is
 * shown, never `detail` or `cause`. Both forms are terminal-safe because
 * messages may quote user input or reasons relayed from the cluster: the text
 * form is sanitized, and in the JSON form the characters JSON.stringify leaves
 * raw (DEL, C1, bidi controls) are written as `\uXXXX` escapes, which keeps
 * the JSON's value unchanged.
 */
export function formatError(error: AirlockError, output: 'text' | 'json'): string {
  if (output === 'json') {
    return `${jsonForTerminal({ code: error.code, message: error.message })}\n`;
  }
  const lines = error.message.split('\n').map(sanitizeForTerminal);
  return `airlock: ${error.code}: ${lines.join('\n')}\n`;
}
