/**
 * Verification of OpenSSH user certificates: the domain decision "may this
 * certificate, presented with this signature, log in as this principal now?".
 *
 * Pure: no I/O, no clock; time, trusted CAs and revocation lists are passed
 * in. Every refusal is an AirlockError with a stable `CERT_*` code. The checks
 * follow OpenSSH `sshkey_cert_check_authority` and `auth2-pubkey.c`, with
 * airlock's stricter choices noted where they differ.
 */
import { AirlockError } from '../errors.js';
import { AIRLOCK_SCOPE_EXTENSION, type AirlockScope, parseAirlockScope } from './airlock-scope.js';
import { CERT_VALID_FOREVER, parseCertificate, type SshCertificate } from './certificate.js';
import { cidrContains, parseCidrList, parseIpAddress } from './cidr.js';
import { type SshPublicKey, sha256Fingerprint } from './public-key.js';
import type { RevocationList } from './revocation.js';
import { SK_FLAG_USER_PRESENCE, SK_FLAG_USER_VERIFICATION, verifySshSignature } from './ssh-signature.js';
import { bytesEqual } from './ssh-wire.js';

/** Critical options airlock understands (PROTOCOL.certkeys, "Critical options"). */
export const KNOWN_CRITICAL_OPTIONS = ['force-command', 'source-address', 'verify-required'] as const;

/** Inputs of a verification besides the certificate itself. */
export interface VerifyCertificateOptions {
  /** CA public keys accepted; several during rotation. Matched by exact key blob. */
  readonly trustedCAs: readonly SshPublicKey[];
  /** The principal (login name) the client asks for. */
  readonly principal: string;
  /** The current time, injected by the caller. */
  readonly now: Date;
  /**
   * The client's IP address as seen on the socket. Required when the
   * certificate has `source-address`; a certificate with that option and no
   * address given is refused.
   */
  readonly clientAddress?: string;
  /** Revocation lists (KRLs, deny lists) to consult. */
  readonly revocation?: RevocationList | readonly RevocationList[];
  /** Tolerated clock difference in seconds, applied to both ends of the window. Default 30. */
  readonly skewSeconds?: number;
  /** Refuse certificates without the airlock scope extension (`CERT_SCOPE_INVALID`). Default false. */
  readonly requireScope?: boolean;
}

/** Who a verified certificate says the user is, and what it allows. */
export interface CertificateIdentity {
  readonly principal: string;
  readonly keyId: string;
  readonly serial: bigint;
  /** `SHA256:...` of the CA key, as `ssh-keygen -l` prints it. */
  readonly caFingerprint: string;
  /** `SHA256:...` of the certified user key. */
  readonly keyFingerprint: string;
  readonly certType: SshCertificate['certType'];
  /** Seconds since the epoch. */
  readonly validAfter: bigint;
  /** Seconds since the epoch; `null` when the certificate never expires (2^64-1). */
  readonly validBefore: bigint | null;
  /** Extensions by name (`permit-pty`, ...); flags map to `''`. */
  readonly extensions: Readonly<Record<string, string>>;
  /** The `force-command` critical option, if present. */
  readonly forceCommand: string | undefined;
  /** The validated airlock scope, if the extension is present. */
  readonly scope: AirlockScope | undefined;
}

function refuse(
  code: ConstructorParameters<typeof AirlockError>[0],
  message: string,
  detail?: string,
): never {
  throw new AirlockError(code, message, detail === undefined ? {} : { detail });
}

function normalizeBlob(blob: Uint8Array | SshCertificate): SshCertificate {
  return blob instanceof Uint8Array ? parseCertificate(blob) : blob;
}

/**
 * Only the issuer: the certificate is signed by one of `trustedCAs`
 * (`CERT_UNTRUSTED_CA`, `CERT_BAD_CA_SIGNATURE` otherwise). Says nothing of
 * its validity, principal or revocation. Returns the CA's fingerprint.
 */
export function verifyCertificateIssuer(
  certificate: Uint8Array | SshCertificate,
  trustedCAs: VerifyCertificateOptions['trustedCAs'],
): string {
  const cert = normalizeBlob(certificate);
  // sshd trusts a certificate only if its signature key is listed in TrustedUserCAKeys.
  const ca = trustedCAs.find((candidate) => bytesEqual(candidate.blob, cert.signatureKey.blob));
  const caFingerprint = sha256Fingerprint(cert.signatureKey.blob);
  if (!ca) refuse('CERT_UNTRUSTED_CA', 'certificate is not signed by a trusted CA', `CA ${caFingerprint}`);

  // PROTOCOL.certkeys: the signature covers everything from the type up to the signature key.
  const caCheck = verifySshSignature(ca, cert.signature, cert.signedData);
  if (!caCheck.valid) refuse('CERT_BAD_CA_SIGNATURE', 'certificate signature is invalid', caCheck.reason);
  return caFingerprint;
}

/**
 * Every check except the session signature: CA trust and signature, user
 * type, validity window, principal, critical options, scope and revocation.
 * Used by `airlock ssh-cert check` and by {@link verifyUserCertificate}.
 */
export function verifyCertificateWithoutSession(
  certificate: Uint8Array | SshCertificate,
  options: VerifyCertificateOptions,
): CertificateIdentity {
  const cert = normalizeBlob(certificate);
  const skewSeconds = options.skewSeconds ?? 30;
  if (!Number.isSafeInteger(skewSeconds) || skewSeconds < 0) {
    refuse('USAGE', `skewSeconds must be a non-negative integer, not ${skewSeconds}`);
  }
  if (Number.isNaN(options.now.getTime())) refuse('USAGE', 'now is not a valid date');
  const skew = BigInt(skewSeconds);

  const caFingerprint = verifyCertificateIssuer(cert, options.trustedCAs);

  // Revocation before the softer checks: a revoked certificate is reported as revoked.
  checkNotRevoked(cert, options.revocation);

  if (cert.type !== 'user')
    refuse('CERT_NOT_USER', 'certificate is a host certificate, not a user certificate');

  const now = BigInt(Math.floor(options.now.getTime() / 1000));
  if (now + skew < cert.validAfter) {
    refuse(
      'CERT_NOT_YET_VALID',
      'certificate is not yet valid',
      `valid after ${cert.validAfter}, now ${now}`,
    );
  }
  // sshkey_cert_check_authority: expired when now >= valid_before; 2^64-1 means forever.
  if (cert.validBefore !== CERT_VALID_FOREVER && now - skew >= cert.validBefore) {
    refuse('CERT_EXPIRED', 'certificate has expired', `valid before ${cert.validBefore}, now ${now}`);
  }

  // OpenSSH treats an empty principal list as "any principal"; airlock refuses it.
  if (cert.principals.length === 0) refuse('CERT_PRINCIPAL_MISMATCH', 'certificate lists no principals');
  if (!cert.principals.includes(options.principal)) {
    refuse('CERT_PRINCIPAL_MISMATCH', `certificate is not valid for principal ${options.principal}`);
  }

  checkCriticalOptions(cert, options.clientAddress);

  const scopeJson = cert.extensions[AIRLOCK_SCOPE_EXTENSION];
  const scope = scopeJson === undefined ? undefined : parseAirlockScope(scopeJson);
  if (scope === undefined && options.requireScope) {
    refuse('CERT_SCOPE_INVALID', `certificate has no ${AIRLOCK_SCOPE_EXTENSION} extension`);
  }

  return {
    principal: options.principal,
    keyId: cert.keyId,
    serial: cert.serial,
    caFingerprint,
    keyFingerprint: sha256Fingerprint(cert.publicKey.blob),
    certType: cert.certType,
    validAfter: cert.validAfter,
    validBefore: cert.validBefore === CERT_VALID_FOREVER ? null : cert.validBefore,
    extensions: cert.extensions,
    forceCommand: cert.criticalOptions['force-command'],
    scope,
  };
}

/** No revocation list (one, several or none given) revokes the certificate. */
function checkNotRevoked(cert: SshCertificate, revocation: VerifyCertificateOptions['revocation']): void {
  const lists = revocation === undefined ? [] : Array.isArray(revocation) ? revocation : [revocation];
  for (const list of lists as readonly RevocationList[]) {
    const reason = list.revocationReason(cert);
    if (reason !== undefined) refuse('CERT_REVOKED', 'certificate has been revoked', reason);
  }
}

/** Only known critical options, a source-address the client matches, and verify-required without a value. */
function checkCriticalOptions(cert: SshCertificate, clientAddress: string | undefined): void {
  for (const name of Object.keys(cert.criticalOptions)) {
    // PROTOCOL.certkeys: an implementation "MUST refuse to authorise a key" with an unrecognised critical option.
    if (!(KNOWN_CRITICAL_OPTIONS as readonly string[]).includes(name)) {
      refuse('CERT_UNKNOWN_CRITICAL_OPTION', `certificate has unknown critical option ${name.slice(0, 64)}`);
    }
  }
  const sourceAddress = cert.criticalOptions['source-address'];
  if (sourceAddress !== undefined) checkSourceAddress(sourceAddress, clientAddress);
  if (
    cert.criticalOptions['verify-required'] !== undefined &&
    cert.criticalOptions['verify-required'] !== ''
  ) {
    refuse('CERT_MALFORMED', 'critical option verify-required takes no value');
  }
}

function checkSourceAddress(list: string, clientAddress: string | undefined): void {
  const blocks = parseCidrList(list);
  if (!blocks)
    refuse('CERT_MALFORMED', 'certificate source-address is not a valid CIDR list', list.slice(0, 200));
  if (clientAddress === undefined) {
    refuse(
      'CERT_SOURCE_ADDRESS',
      'certificate is restricted by source-address and no client address is known',
    );
  }
  const address = parseIpAddress(clientAddress);
  if (address === undefined)
    refuse('CERT_SOURCE_ADDRESS', 'client address is not an IP address', clientAddress);
  if (!blocks.some((block) => cidrContains(block, address))) {
    refuse('CERT_SOURCE_ADDRESS', `certificate is not valid from ${clientAddress}`, `source-address ${list}`);
  }
}

/**
 * Verifies a user certificate and the user's session signature.
 *
 * @param certificate - the certificate blob (or an already parsed certificate)
 * @param signature - the SSH signature blob the client sent (RFC 4252 §7)
 * @param signedData - the bytes that signature covers (the session data)
 * @returns the identity; throws AirlockError `CERT_*` on any refusal.
 *
 * The session signature must use the certified key: for RSA only
 * rsa-sha2-256/512; for security keys (PROTOCOL.u2f) the user-presence flag
 * is required unless the certificate carries `no-touch-required`, and the
 * user-verification flag when it carries `verify-required`. For other keys,
 * `verify-required` cannot be satisfied and is refused, as in OpenSSH.
 */
export function verifyUserCertificate(
  certificate: Uint8Array | SshCertificate,
  signature: Uint8Array,
  signedData: Uint8Array,
  options: VerifyCertificateOptions,
): CertificateIdentity {
  const cert = normalizeBlob(certificate);
  const identity = verifyCertificateWithoutSession(cert, options);
  const check = verifySshSignature(cert.publicKey, signature, signedData);
  if (!check.valid) refuse('CERT_BAD_SIGNATURE', 'session signature is invalid', check.reason);
  const verifyRequired = cert.criticalOptions['verify-required'] !== undefined;
  if (check.skFlags === undefined) {
    if (verifyRequired)
      refuse('CERT_BAD_SIGNATURE', 'certificate requires a verified security key signature');
    return identity;
  }
  if ((check.skFlags & SK_FLAG_USER_PRESENCE) === 0 && cert.extensions['no-touch-required'] === undefined) {
    refuse('CERT_BAD_SIGNATURE', 'security key signature lacks user presence (touch)');
  }
  if (verifyRequired && (check.skFlags & SK_FLAG_USER_VERIFICATION) === 0) {
    refuse('CERT_BAD_SIGNATURE', 'security key signature lacks user verification');
  }
  return identity;
}
