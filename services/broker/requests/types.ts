/**
 * The types of the access broker's API: what callers send, what the broker
 * depends on, and its operations. Re-exported by access-broker.ts.
 */
import type { AuditTrail } from '../../core/audit/index.js';
import type { Policy } from '../../core/policy/index.js';
import type { SshPrivateKey } from '../../core/ssh-cert/index.js';
import type { DenyListWriter } from '../deny-list.js';
import type { Identity } from '../identity.js';
import type { KubeCsrSigner, KubeCsrSubject } from '../kube-csr-signer.js';
import type { TierLifecycle } from '../launcher/tier-lifecycle.js';
import type { AccessRequest, RequestStore } from '../request-store.js';
import type { RequestNotifier } from '../webhook-notifier.js';

/** What a caller sends to create a request. */
export interface CreateRequestInput {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly podPatterns: readonly string[];
  readonly reason: string;
  readonly ttlSeconds: number;
  /** One OpenSSH public key line. */
  readonly sshPublicKey: string;
  readonly runbook?: string;
  /** Container name globs the session may name with `-c`; absent: every container the profile allows. */
  readonly containerPatterns?: readonly string[];
  /**
   * `moderator`: the moderator role of the profile (join and moderate its
   * sessions), not access; `observer`: join and watch them only.
   */
  readonly role?: 'moderator' | 'observer';
}

/** Dependencies of {@link createAccessBroker}. */
export interface AccessBrokerDeps {
  readonly policy: Policy;
  readonly store: RequestStore;
  readonly audit: AuditTrail;
  readonly denyList: DenyListWriter;
  /**
   * The SSH user CA. Only the broker holds it. A getter when it rotates: the
   * signing key of the keyring at the moment of issuing.
   */
  readonly caKey: SshPrivateKey | (() => SshPrivateKey);
  /** Members of these groups may see and revoke any request. */
  readonly adminGroups: readonly string[];
  /** Overridden in tests. */
  readonly clock: () => Date;
  /** Tells people about new pending requests and decisions (never blocks); absent: no one. */
  readonly notifier?: RequestNotifier;
  /**
   * Kubernetes client certificates for kubectl; absent: the feature is off
   * and `kubeCertificate*` answer KUBE_CERT_UNAVAILABLE.
   */
  readonly kubeCertificates?: {
    readonly signer: KubeCsrSigner;
    /** The cluster the signer's kubeconfig reaches; only requests for it are served. */
    readonly cluster: string;
  };
  /**
   * Ephemeral mode: launches an approved request's own mediator and executor
   * pods and deletes them when it is revoked (services/broker/launcher);
   * absent: standing mode, nothing is launched.
   */
  readonly tiers?: TierLifecycle;
}

/** What `airlock cred-helper` / `airlock kube-cert` send: a CSR for the requester's own key. */
export interface KubeCertificateInput {
  /** PKCS#10 PEM; its subject must be exactly {@link KubeCertificateSubject}. */
  readonly csr: string;
  /** Wanted lifetime; bounded by the request and 30 min, at least 600 s. */
  readonly ttlSeconds: number;
  /** When given, must be the request's cluster. */
  readonly cluster?: string;
}

/** The subject a kube client CSR for a request must carry. */
export interface KubeCertificateSubject extends KubeCsrSubject {
  readonly requestId: string;
  readonly cluster: string;
  /** When the access granted by the request ends. */
  readonly accessExpiresAt: string;
}

/** A Kubernetes client certificate issued for a request. */
export interface IssuedKubeCertificate {
  readonly requestId: string;
  readonly cluster: string;
  /** PEM. */
  readonly certificate: string;
  /** Hex, as `openssl x509 -serial` prints it. */
  readonly serial: string;
  /** RFC 3339. */
  readonly notAfter: string;
}

/** The broker's operations. Each takes the authenticated actor. */
export interface AccessBroker {
  create(actor: Identity, input: CreateRequestInput): Promise<AccessRequest>;
  get(actor: Identity, id: string): Promise<AccessRequest>;
  /** `mine`: the actor's own requests; `pending`: pending requests the actor may approve now. */
  list(actor: Identity, filter: 'mine' | 'pending'): Promise<AccessRequest[]>;
  approve(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  deny(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  /** Signs (once) and returns the requester's certificate. */
  issueCertificate(actor: Identity, id: string): Promise<AccessRequest>;
  revoke(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  /** The CSR subject the requester must use for a Kubernetes client certificate. */
  kubeCertificateSubject(actor: Identity, id: string): Promise<KubeCertificateSubject>;
  /**
   * Has Kubernetes sign the requester's client CSR (CN = user, O = the
   * scope's jit: groups) for an approved request; audited as cert.issued
   * with `kind: 'kube-client'`.
   */
  issueKubeCertificate(
    actor: Identity,
    id: string,
    input: KubeCertificateInput,
  ): Promise<IssuedKubeCertificate>;
  /** Moves pending requests past their expiry to `expired`; returns how many. */
  expirePending(): Promise<number>;
}
