/**
 * Issuing OpenSSH host certificates (PROTOCOL.certkeys, SSH_CERT_TYPE_HOST),
 * the job of the airlock host CA: a client whose known_hosts holds
 * `@cert-authority <pattern> <host CA key>` accepts a mediator that presents
 * such a certificate, so an ephemeral mediator needs no trust-on-first-use.
 * The encoding is the user signer's (cert-signer.ts); this file adds the rules
 * for hosts.
 */
import { AirlockError } from '../errors.js';
import { type SignedUserCertificate, signCertificate } from './cert-signer.js';
import type { SshPrivateKey } from './private-key.js';
import type { SshPublicKey } from './public-key.js';

/**
 * Longest validity of a host certificate: 31 days. A per-request mediator
 * needs minutes to hours; a standing one is re-certified monthly. An
 * unbounded host certificate would outlive every rotation of the host key.
 */
export const MAX_HOST_CERT_LIFETIME_SECONDS = 31 * 24 * 3600;

/**
 * A principal is a host name as the client matches it (the name given to
 * `ssh`, or its HostKeyAlias): letters, digits, dots, hyphens, underscores,
 * colons for IPv6. No wildcards or commas: OpenSSH matches host certificate
 * principals literally, and a list with a pattern in it is a mistake.
 */
const HOST_PRINCIPAL = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}$/;

/** What to put into a host certificate. */
export interface SignHostCertificateRequest {
  /** The host CA key (ed25519, ECDSA, or RSA, which signs with rsa-sha2-512). */
  readonly caPrivateKey: SshPrivateKey;
  /** The host's public key (the mediator's ed25519 host key). */
  readonly publicKey: SshPublicKey;
  /** Names the certificate in logs, e.g. `mediator/req-42`. */
  readonly keyId: string;
  /** The host names the certificate is valid for; at least one. */
  readonly principals: readonly string[];
  readonly validAfter: Date;
  /** At most {@link MAX_HOST_CERT_LIFETIME_SECONDS} after validAfter. */
  readonly validBefore: Date;
  readonly serial?: bigint;
  readonly nonce?: Uint8Array;
  readonly comment?: string;
}

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

/**
 * Signs a host certificate: type host, no critical options or extensions
 * (PROTOCOL.certkeys defines none for hosts), literal principals, bounded
 * validity. Invalid requests throw AirlockError `USAGE`.
 */
export function signHostCertificate(request: SignHostCertificateRequest): SignedUserCertificate {
  if (request.keyId.trim() === '') usage('a host certificate needs a key id');
  if (request.principals.length === 0) usage('a host certificate needs at least one principal (host name)');
  for (const principal of request.principals) {
    if (!HOST_PRINCIPAL.test(principal))
      usage(`host principal ${JSON.stringify(principal)} is not a host name`);
  }
  const lifetimeMs = request.validBefore.getTime() - request.validAfter.getTime();
  if (lifetimeMs > MAX_HOST_CERT_LIFETIME_SECONDS * 1000) {
    usage(`a host certificate may be valid for at most ${MAX_HOST_CERT_LIFETIME_SECONDS / 86_400} days`);
  }
  return signCertificate(
    {
      caPrivateKey: request.caPrivateKey,
      publicKey: request.publicKey,
      keyId: request.keyId,
      principals: request.principals,
      validAfter: request.validAfter,
      validBefore: request.validBefore,
      ...(request.serial === undefined ? {} : { serial: request.serial }),
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
      ...(request.comment === undefined ? {} : { comment: request.comment }),
    },
    'host',
  );
}
