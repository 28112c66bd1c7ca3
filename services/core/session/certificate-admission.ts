/**
 * May this OpenSSH user certificate open an airlock session? The one answer
 * the mediator (at SSH authentication), the executor (at OpenSession) and
 * `airlock ssh-cert check` all give, so the three cannot drift apart.
 *
 * On top of the certificate checks of `verifyCertificateWithoutSession`
 * (CA, validity window, principal, critical options, revocation), airlock
 * requires its scope extension and a lifetime within the policy's TTL bound
 * for the scope's profile: a certificate signed by the right CA but for
 * longer than policy allows (`ssh-keygen -V always:forever` with a stolen or
 * misused CA key, an old broker) is refused, not trusted for as long as it
 * says. A login adds the user's signature, which must be over an RFC 4252
 * `publickey` request for this very certificate (userauth-request.ts).
 *
 * Pure: no I/O; time, CAs, revocation lists and policy are passed in.
 */
import { AirlockError } from '../errors.js';
import { effectiveMaxTtl, type Policy } from '../policy/index.js';
import {
  type CertificateIdentity,
  checkUserauthRequest,
  parseCertificate,
  type SshCertificate,
  type UserauthRequest,
  type VerifyCertificateOptions,
  verifyCertificateWithoutSession,
  verifyUserCertificate,
} from '../ssh-cert/index.js';

/** Certificate verification inputs plus the policy whose TTL bound applies. */
export interface AdmissionOptions extends Omit<VerifyCertificateOptions, 'requireScope'> {
  readonly policy: Policy;
}

/** An identity admitted by airlock: it always has a scope and an end. */
export interface AdmittedIdentity extends CertificateIdentity {
  readonly scope: NonNullable<CertificateIdentity['scope']>;
  readonly validBefore: bigint;
}

/**
 * The longest validity, in seconds, the policy allows a certificate for
 * `profile`: the profile's own bound, or the policy-wide one when the
 * profile is not (or no longer) in the policy.
 */
export function maxCertificateLifetime(policy: Policy, profile: string): number {
  const known = Object.hasOwn(policy.profiles, profile) ? policy.profiles[profile] : undefined;
  return known ? effectiveMaxTtl(policy, known) : policy.limits.maxTtlSeconds;
}

/** Refuses (`CERT_LIFETIME_EXCEEDS_POLICY`) a certificate valid for longer than policy allows. */
export function checkCertificateLifetime(identity: CertificateIdentity, policy: Policy): AdmittedIdentity {
  const scope = identity.scope;
  if (scope === undefined) throw new AirlockError('CERT_SCOPE_INVALID', 'certificate has no airlock scope');
  const bound = maxCertificateLifetime(policy, scope.profile);
  if (identity.validBefore === null) {
    throw new AirlockError(
      'CERT_LIFETIME_EXCEEDS_POLICY',
      `certificate never expires; the policy allows at most ${bound}s`,
    );
  }
  const lifetime = identity.validBefore - identity.validAfter;
  if (lifetime > BigInt(bound)) {
    throw new AirlockError(
      'CERT_LIFETIME_EXCEEDS_POLICY',
      `certificate is valid for ${lifetime}s; the policy allows at most ${bound}s for profile ${scope.profile}`.slice(
        0,
        300,
      ),
    );
  }
  return { ...identity, scope, validBefore: identity.validBefore };
}

/** Every check of a certificate without the login signature (the mediator's "would this key do?"). */
export function admitCertificate(
  certificate: Uint8Array | SshCertificate,
  options: AdmissionOptions,
): AdmittedIdentity {
  const identity = verifyCertificateWithoutSession(certificate, { ...options, requireScope: true });
  return checkCertificateLifetime(identity, options.policy);
}

/**
 * A login: the certificate as {@link admitCertificate} checks it, and the
 * user's `signature` over `signedData`, which must be a `publickey` userauth
 * request (RFC 4252 §7) for this certificate and principal. Returns the
 * request too: its bytes are what a once-only rule remembers.
 */
export function admitLogin(
  certificate: Uint8Array | SshCertificate,
  signature: Uint8Array,
  signedData: Uint8Array,
  options: AdmissionOptions,
): { identity: AdmittedIdentity; request: UserauthRequest } {
  const cert = certificate instanceof Uint8Array ? parseCertificate(certificate) : certificate;
  // The certificate and the signature first, so an untrusted or expired certificate is reported as such.
  const identity = verifyUserCertificate(cert, signature, signedData, { ...options, requireScope: true });
  const request = checkUserauthRequest(signedData, signature, cert, options.principal);
  return { identity: checkCertificateLifetime(identity, options.policy), request };
}
