/**
 * The identity a session grant carries, and how it is written into and read
 * back from the certificate.
 *
 * A session grant is a client certificate the mediator issues for one SSH
 * session. Its identity is in two places that must agree:
 * - subject `CN=session:<sessionId>, O=airlock-mediator`, which is what TLS
 *   logs and `openssl x509 -subject` show;
 * - one URI SAN `airlock://session/<sessionId>?user=<user>&scope=<digest>`
 *   (RFC 5280 §4.2.1.6 uniformResourceIdentifier), where `user` is
 *   percent-encoded with `encodeURIComponent` and `scope` is the lowercase
 *   hex digest of the approved scope. Parsing accepts only that canonical
 *   form, so every grant has exactly one spelling.
 */
import type { X509Certificate } from '@peculiar/x509';
import { AirlockError } from '../errors.js';
import {
  type CertificateInput,
  certificateFingerprint,
  parseCertificate,
  subjectField,
} from './certificate-input.js';
import { x509 } from './provider.js';

/** Organization of every session grant subject. */
export const SESSION_GRANT_ORGANIZATION = 'airlock-mediator';
/** Prefix of a session grant's common name. */
export const SESSION_GRANT_CN_PREFIX = 'session:';
/** Scheme and authority of the identity URI. */
export const SESSION_GRANT_URI_PREFIX = 'airlock://session/';

/** Session ids: printable URL-safe tokens. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
/** Scope digests: lowercase hex, 16 to 64 octets (SHA-256 is 32). */
export const SCOPE_DIGEST_PATTERN = /^(?:[0-9a-f]{2}){16,64}$/;
const MAX_USER_LENGTH = 256;

const GRANT_URI =
  /^airlock:\/\/session\/([A-Za-z0-9._~-]{1,128})\?user=([A-Za-z0-9!'()*._~%-]+)&scope=([0-9a-f]+)$/;

/** Who a session grant is for. */
export interface SessionGrantIdentity {
  readonly sessionId: string;
  /** The engineer's user name as approved by the broker. */
  readonly user: string;
  /** Lowercase hex digest of the approved scope. */
  readonly scopeDigest: string;
}

/** A parsed session grant (identity + validity), not yet verified against a CA. */
export interface SessionGrant extends SessionGrantIdentity {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint: string;
}

function invalidGrant(reason: string): never {
  throw new AirlockError('X509_INVALID', 'certificate is not a valid airlock session grant', {
    detail: reason,
  });
}

const CONTROL = /[\u0000-\u001f\u007f]/;

function wellFormed(text: string): boolean {
  if (CONTROL.test(text)) return false;
  try {
    encodeURIComponent(text); // throws URIError on a lone surrogate
    return true;
  } catch {
    return false;
  }
}

/** Checks identity fields; throws `USAGE` naming the bad field. */
export function validateSessionGrantIdentity(identity: SessionGrantIdentity): void {
  const { sessionId, user, scopeDigest } = identity;
  if (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId)) {
    throw new AirlockError('USAGE', `sessionId must match ${SESSION_ID_PATTERN}`);
  }
  if (typeof user !== 'string' || user.length === 0 || user.length > MAX_USER_LENGTH || !wellFormed(user)) {
    throw new AirlockError(
      'USAGE',
      `user must be 1..${MAX_USER_LENGTH} characters, no control characters or lone surrogates`,
    );
  }
  if (typeof scopeDigest !== 'string' || !SCOPE_DIGEST_PATTERN.test(scopeDigest)) {
    throw new AirlockError('USAGE', `scopeDigest must match ${SCOPE_DIGEST_PATTERN}`);
  }
}

/** The identity URI of a grant. */
export function formatSessionGrantUri(identity: SessionGrantIdentity): string {
  validateSessionGrantIdentity(identity);
  return `${SESSION_GRANT_URI_PREFIX}${identity.sessionId}?user=${encodeURIComponent(identity.user)}&scope=${identity.scopeDigest}`;
}

/** Parses a canonical identity URI; throws `X509_INVALID`. */
export function parseSessionGrantUri(uri: string): SessionGrantIdentity {
  const match = GRANT_URI.exec(uri);
  if (match === null) invalidGrant('URI SAN is not airlock://session/<id>?user=<user>&scope=<hex>');
  const [, sessionId = '', encodedUser = '', scopeDigest = ''] = match;
  let user: string;
  try {
    user = decodeURIComponent(encodedUser);
  } catch {
    return invalidGrant('user is not valid percent-encoding');
  }
  if (encodeURIComponent(user) !== encodedUser) invalidGrant('user is not canonically percent-encoded');
  const identity = { sessionId, user, scopeDigest };
  try {
    validateSessionGrantIdentity(identity);
  } catch (error) {
    invalidGrant(error instanceof Error ? error.message : 'invalid identity');
  }
  return identity;
}

/** Reads the identity of an already parsed certificate; throws `X509_INVALID`. */
export function sessionGrantFromCertificate(certificate: X509Certificate): SessionGrant {
  let uris: string[];
  try {
    const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
    uris = (san?.names.items ?? []).filter((name) => name.type === 'url').map((name) => name.value);
  } catch {
    return invalidGrant('subjectAltName does not parse');
  }
  const grantUris = uris.filter((uri) => uri.startsWith(SESSION_GRANT_URI_PREFIX));
  if (grantUris.length !== 1) invalidGrant(`expected one airlock session URI SAN, found ${grantUris.length}`);
  const identity = parseSessionGrantUri(grantUris[0]!);
  const commonNames = certificate.subjectName.getField('CN');
  if (commonNames.length !== 1 || commonNames[0] !== `${SESSION_GRANT_CN_PREFIX}${identity.sessionId}`) {
    invalidGrant('subject CN does not name the session of the URI SAN');
  }
  if (subjectField(certificate, 'O') !== SESSION_GRANT_ORGANIZATION) {
    invalidGrant(`subject O is not ${SESSION_GRANT_ORGANIZATION}`);
  }
  return {
    ...identity,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    fingerprint: certificateFingerprint(certificate),
  };
}

/**
 * Reads a session grant's identity and validity. Does NOT check who issued it
 * or whether it is valid now: call {@link verifyPeerCertificate} first.
 * Throws `X509_INVALID` only.
 */
export function parseSessionGrant(certPem: CertificateInput): SessionGrant {
  try {
    return sessionGrantFromCertificate(parseCertificate(certPem, 'session grant'));
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('X509_INVALID', 'certificate is not a valid airlock session grant', {
      detail: String(error),
      cause: error,
    });
  }
}
