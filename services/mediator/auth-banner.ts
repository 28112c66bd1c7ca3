/**
 * The SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4) the mediator sends right
 * before refusing a login, so that the user reads why and what to do
 * instead of OpenSSH's bare `Permission denied (publickey)`.
 *
 * Only ever sent to a client that proved possession of the certificate's key
 * (its signature over this session's userauth request verified): everything
 * the banner says comes from that client's own certificate (its request id,
 * its principals, its validity) or from the refusal of that certificate, so
 * nothing about another user or another request can reach anyone. A client
 * that only holds a certificate blob (a public thing) learns nothing.
 *
 * Pure: no I/O; `now` is passed in.
 */
import { sanitizeForTerminal } from '../core/command-language/sanitize.js';
import type { AirlockError, ErrorCode } from '../core/errors.js';
import {
  AIRLOCK_SCOPE_EXTENSION,
  CERT_VALID_FOREVER,
  parseAirlockScope,
  type SshCertificate,
} from '../core/ssh-cert/index.js';

/** The request id of the certificate's airlock scope, when it has a readable one. */
function requestIdOf(cert: SshCertificate): string | undefined {
  const json = cert.extensions[AIRLOCK_SCOPE_EXTENSION];
  if (json === undefined) return undefined;
  try {
    return parseAirlockScope(json).requestId;
  } catch {
    return undefined;
  }
}

function isoSeconds(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** The one-line fix for a refusal, or undefined when there is nothing the user can do. */
function fixFor(code: ErrorCode, cert: SshCertificate): string | undefined {
  const request = requestIdOf(cert);
  const renew = request === undefined ? 'run: airlock request' : `run: airlock cert ${request}`;
  const again = 'run: airlock request (a new request)';
  const fixes: Partial<Record<ErrorCode, string>> = {
    CERT_EXPIRED:
      cert.validBefore === CERT_VALID_FOREVER
        ? renew
        : `your certificate expired at ${isoSeconds(cert.validBefore)}; ${renew}, or if the request has expired, ${again}`,
    CERT_NOT_YET_VALID: `your certificate is valid from ${isoSeconds(cert.validAfter)}; check this machine's clock`,
    CERT_REVOKED: `the access was revoked; ${again}`,
    CERT_PRINCIPAL_MISMATCH: `log in as ${cert.principals.slice(0, 4).join(' or ') || 'the user the certificate names'} (ssh USER@gateway)`,
    CERT_SOURCE_ADDRESS:
      'connect from an address the certificate allows (source-address), or request again from here',
    CERT_SCOPE_INVALID: renew,
    CERT_LIFETIME_EXCEEDS_POLICY: renew,
    CERT_SIGNATURE_REPLAYED: 'try again',
    CERT_PREDATES_REPLAY_RECORD: renew,
    CERT_REQUEST_MISMATCH: `reach your own request's mediator: ssh ${request ?? '<your request id>'}`,
    LIMIT_EXCEEDED: 'close one of your other sessions to this gateway first',
    PROFILE_UNKNOWN: again,
  };
  return fixes[code];
}

/**
 * `airlock: CODE — message; fix\r\n`, terminal-safe (the message may quote
 * the certificate's own fields), at most 400 characters.
 */
export function refusalBanner(error: AirlockError, cert: SshCertificate): string {
  const fix = fixFor(error.code, cert);
  const text = `airlock: ${error.code} — ${error.message}${fix === undefined ? '' : `; ${fix}`}`;
  return `${sanitizeForTerminal(text.replaceAll('\n', ' ')).slice(0, 400)}\r\n`;
}
