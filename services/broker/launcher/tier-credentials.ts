/**
 * The per-request mediator→executor mTLS identities of one request's pods.
 *
 * Each request gets two fresh tier CAs (services/core/x509, ECDSA P-256),
 * valid exactly for the request's remaining access:
 * - its **mediator CA** signs the session grants its mediator issues (one
 *   per SSH session, as the standing mediator does with the standing CA);
 *   only this request's executor trusts it;
 * - its **executor CA** signs the serving certificate its executor issues
 *   itself for its Service name; only this request's mediator trusts it.
 * So no tier credential of request A verifies at request B's pods: A's
 * grants are refused by B's executor at the TLS handshake, and B's executor
 * is refused by A's mediator. The standing CAs' keys never enter a per-request
 * pod, and every leaf is capped at its CA's end, i.e. the request's expiry.
 *
 * Also the mediator's per-request SSH host key and its host certificate,
 * signed by the airlock host CA for exactly one host name, the request id
 * (the `Host`/`HostKeyAlias` of the ssh_config entry `airlock cert --door`
 * writes), valid until the request's access ends. A client whose
 * known_hosts says `@cert-authority <request-id> <host CA>` accepts this
 * mediator and no other request's: B's certificate names B.
 */
import {
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  generateCaKey,
  type SshPrivateKey,
  signHostCertificate,
} from '../../core/ssh-cert/index.js';
import { createTierCa } from '../../core/x509/index.js';

/** File names inside a tier's Secret (mounted at /etc/airlock/tls). */
export const TLS_FILES = {
  mediatorCaCert: 'mediator-ca.crt',
  mediatorCaKey: 'mediator-ca.key',
  executorCaCert: 'executor-ca.crt',
  executorCaKey: 'executor-ca.key',
  hostKey: 'ssh_host_ed25519_key',
  hostCertificate: 'ssh_host_ed25519_key-cert.pub',
} as const;

/** The host certificate starts this long before the launch, for clients whose clocks are a little behind. */
const HOST_CERT_BACKDATE_MS = 60_000;

/** What each tier's Secret holds (file name → content). */
export interface TierSecrets {
  /** Its own CA (cert + key) and the executor CA it trusts, and its SSH host key and host certificate. */
  readonly mediator: Readonly<Record<string, string>>;
  /** Its own CA (cert + key) and the mediator CA it trusts. */
  readonly executor: Readonly<Record<string, string>>;
  /** The host key's public line, for the audit trail and the host certificate. */
  readonly hostPublicKey: string;
  /** The host certificate (OpenSSH line): principal the request id, key id `mediator/<request id>`. */
  readonly hostCertificate: string;
  /** When both CAs and the host certificate end. */
  readonly notAfter: Date;
}

/**
 * Creates one request's credentials, valid from `now` for `seconds` (the
 * request's remaining access; at least 60, createTierCa's minimum); the
 * host certificate is signed by `hostCa`, the airlock host CA.
 */
export async function createTierSecrets(
  requestId: string,
  now: Date,
  seconds: number,
  hostCa: SshPrivateKey,
): Promise<TierSecrets> {
  const day = now.toISOString().slice(0, 10);
  const [mediatorCa, executorCa] = await Promise.all([
    createTierCa({
      tier: 'mediator',
      commonName: `airlock mediator CA ${day} ${requestId}`,
      validitySeconds: seconds,
      now,
    }),
    createTierCa({
      tier: 'executor',
      commonName: `airlock executor CA ${day} ${requestId}`,
      validitySeconds: seconds,
      now,
    }),
  ]);
  const hostKey = generateCaKey('ed25519', `airlock mediator ${requestId}`);
  const hostCertificate = signHostCertificate({
    caPrivateKey: hostCa,
    publicKey: hostKey.publicKey,
    keyId: `mediator/${requestId}`,
    principals: [requestId],
    validAfter: new Date(now.getTime() - HOST_CERT_BACKDATE_MS),
    validBefore: mediatorCa.notAfter,
    comment: `airlock mediator ${requestId}`,
  }).line;
  return {
    mediator: {
      [TLS_FILES.mediatorCaCert]: mediatorCa.certPem,
      [TLS_FILES.mediatorCaKey]: mediatorCa.privateKeyPem,
      [TLS_FILES.executorCaCert]: executorCa.certPem,
      [TLS_FILES.hostKey]: formatOpenSshPrivateKey(hostKey.privateKey, hostKey.comment),
      [TLS_FILES.hostCertificate]: `${hostCertificate}\n`,
    },
    executor: {
      [TLS_FILES.executorCaCert]: executorCa.certPem,
      [TLS_FILES.executorCaKey]: executorCa.privateKeyPem,
      [TLS_FILES.mediatorCaCert]: mediatorCa.certPem,
    },
    hostPublicKey: formatPublicKeyLine(hostKey.publicKey, hostKey.comment),
    hostCertificate,
    notAfter: mediatorCa.notAfter,
  };
}
