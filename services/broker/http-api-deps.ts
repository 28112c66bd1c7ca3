/** What the broker's HTTPS API handler is given (http-api.ts builds it, http-routes.ts serves with it). */
import type { AuditTrail } from '../core/audit/types.js';
import type { AccessBroker } from './access-broker.js';
import type { BrokerWitness } from './audit-witness.js';
import type { BrokerHttpObserver } from './broker-metrics.js';
import type { Authenticator } from './identity.js';

/** What the API tells unauthenticated clients so they can log in. */
export interface PublicBrokerInfo {
  readonly issuer: string;
  readonly clientId: string;
}

/** One SSH user CA public key as `GET /v1/ssh-ca` lists it. */
export interface PublishedSshCaKey {
  /** `TrustedUserCAKeys` line. */
  readonly publicKey: string;
  readonly fingerprint: string;
  /** Whether the broker signs with it now. */
  readonly active: boolean;
}

/** Dependencies of the handler. */
export interface BrokerApiDeps {
  readonly broker: AccessBroker;
  readonly authenticator: Authenticator;
  readonly info: PublicBrokerInfo;
  /**
   * The SSH user CA public keys (every key of the keyring, the signer
   * marked), published so operators and tiers can check a rotation.
   */
  readonly sshCaKeys?: () => readonly PublishedSshCaKey[];
  /**
   * Ephemeral mode: the airlock host CA public key lines. Each certificate
   * response carries them as `hostCertificateAuthorities`, so `airlock cert
   * --door` writes `@cert-authority <request id> <key>` from the same
   * authenticated TLS answer as the user certificate, no extra file.
   */
  readonly hostCaKeys?: readonly string[];
  /** Operator log (detail of errors); default: none. */
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Metrics of authentication failures and request latency; default: none. */
  readonly observer?: BrokerHttpObserver;
  /**
   * Audit trail for refused sign-ins that the IdP signed (AUTH_UNVERIFIED:
   * an authentic token whose user name is not verified). Other
   * authentication failures are anonymous noise and only logged and counted.
   */
  readonly audit?: Pick<AuditTrail, 'append'>;
  /** Records the tiers' checkpoint heads (POST /v1/audit/witness); default: no such route. */
  readonly witness?: BrokerWitness;
}
