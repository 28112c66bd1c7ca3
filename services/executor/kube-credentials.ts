/**
 * How a session's Kubernetes calls authenticate (`kubeCredentials` in the
 * executor config; docs/executor.md "Kubernetes credentials").
 *
 * - `impersonation` (default): the executor's own identity impersonates the
 *   fixed user `airlock:session` plus the session's `jit:` groups, and names
 *   the person and the correlation ids in `Impersonate-Extra`
 *   (services/core/policy/kube-impersonation.ts). Nothing is set up per session.
 * - `csr`: at OpenSession the executor makes a fresh ECDSA P-256 key and a
 *   CSR with CN = the person (the SSH principal) and one O per `jit:` group,
 *   has it signed by `kubernetes.io/kube-apiserver-client` through the CSR
 *   API (services/core/kube/kube-csr.ts), and makes every call of the session
 *   with that client certificate and no impersonation headers, so the
 *   apiserver (RBAC, audit log) sees the person directly.
 *
 * csr mode, decided:
 * - The CSR object is deleted as soon as the certificate is read (the
 *   certificate does not depend on it, and a crashed executor then leaves
 *   nothing behind), and again, by name, when the session ends, in case that
 *   first delete failed. The private key lives only in this process's memory
 *   and is dropped when the session ends; the certificate cannot be revoked
 *   in Kubernetes, so it is only as good as that key.
 * - `expirationSeconds` is max(600, the session's remaining seconds): the CSR
 *   API's minimum is 600 s, so a short session's certificate outlives it by up
 *   to 10 minutes (the session ends in airlock regardless). A certificate the
 *   signer issued for less than the session is refused.
 * - A principal starting with `system:` is refused: Kubernetes reserves that
 *   prefix, and a certificate for `system:serviceaccount:…` or
 *   `system:kube-controller-manager` would carry that identity's rights.
 *   Machine identities need impersonation mode.
 * Every failure is `KUBE_CREDENTIALS_UNAVAILABLE`: the session is not opened.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AirlockError } from '../core/errors.js';
import { type KubeCsrSigner, kubeCsrObjectName, MIN_KUBE_CERT_SECONDS } from '../core/kube/kube-csr.js';
import { type ImpersonationSubject, sessionImpersonation } from '../core/policy/index.js';
import { createCsr } from '../core/x509/index.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, type KubeClients } from './kube-gateway.js';
import { ImpersonatingKubeConfig, impersonatingConfiguration } from './kube-impersonation.js';

/** The two ways a session reaches Kubernetes. */
export const KUBE_CREDENTIAL_MODES = ['impersonation', 'csr'] as const;
export type KubeCredentialMode = (typeof KUBE_CREDENTIAL_MODES)[number];

/** The verified session credentials are made for: the impersonated session, and when it ends. */
export interface KubeSessionSubject extends ImpersonationSubject {
  /** When the session ends (earlier of certificate and grant expiry). */
  readonly expiresAt: Date;
}

/**
 * One session's way to Kubernetes. Owned by the session: `release` is called
 * once when the session ends for any reason (close, expiry, revocation,
 * replacement, shutdown); later calls are no-ops.
 */
export interface SessionKubeCredentials {
  /** Clients for one call; `traceId` is the call's trace (impersonation: an Impersonate-Extra value). */
  clients(call: { readonly traceId?: string | undefined }): KubeClients;
  /** Ends the credentials (csr: deletes the CSR object if still there, drops the key). Never rejects. */
  release(): Promise<void>;
}

/**
 * Makes credentials for sessions being opened. `open` rejects with
 * `KUBE_CREDENTIALS_UNAVAILABLE` when none can be had, and the session is
 * then refused (fail closed).
 */
export interface KubeCredentials {
  readonly mode: KubeCredentialMode;
  open(subject: KubeSessionSubject): Promise<SessionKubeCredentials>;
}

/**
 * Impersonation mode over the executor's own identity (`kubeConfig`). A
 * call without an answer from the API server for `requestTimeoutMs` fails
 * (kube-gateway.ts: KUBERNETES_UNAVAILABLE).
 */
export function createImpersonationCredentials(
  kubeConfig: KubeConfig,
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): KubeCredentials {
  return {
    mode: 'impersonation',
    async open(subject) {
      return {
        clients({ traceId }) {
          const as = sessionImpersonation(subject, traceId);
          return {
            core: () => new CoreV1Api(impersonatingConfiguration(kubeConfig, as, requestTimeoutMs)),
            apps: () => new AppsV1Api(impersonatingConfiguration(kubeConfig, as, requestTimeoutMs)),
            streaming: new ImpersonatingKubeConfig(kubeConfig, as, requestTimeoutMs),
          };
        },
        async release() {},
      };
    },
  };
}

/** `spec.expirationSeconds` for a session's certificate: max(600, remaining seconds, rounded up). */
export function sessionCertLifetimeSeconds(expiresAt: Date, now: Date): number {
  return Math.max(MIN_KUBE_CERT_SECONDS, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
}

/** The certificate's CN: the principal itself, refused when Kubernetes reserves its prefix. */
export function sessionCommonName(user: string): string {
  if (user.startsWith('system:')) {
    throw new AirlockError(
      'KUBE_CREDENTIALS_UNAVAILABLE',
      'csr mode does not issue Kubernetes certificates for system: users',
      { detail: `principal ${user}: use kubeCredentials "impersonation" for machine identities` },
    );
  }
  return user;
}

function unavailable(step: string, cause: unknown): AirlockError {
  const reason = cause instanceof AirlockError ? cause.message : String((cause as Error)?.message ?? cause);
  const detail = cause instanceof AirlockError && cause.detail ? `${reason}: ${cause.detail}` : reason;
  return new AirlockError('KUBE_CREDENTIALS_UNAVAILABLE', 'no Kubernetes credentials for this session', {
    detail: `${step}: ${detail}`,
    cause,
  });
}

/** Options of {@link createCsrCredentials}. */
export interface CsrCredentialsOptions {
  /** The executor's own identity: where the apiserver is and how to trust it (its user is not used for calls). */
  readonly kubeConfig: KubeConfig;
  /** Signs with the executor's identity, which may create and approve CSRs for the client signer only. */
  readonly signer: KubeCsrSigner;
  readonly clock: () => Date;
  readonly logger: Logger;
  /** How long a session's call may wait for an answer; default DEFAULT_REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number;
}

/** A kubeconfig that calls `cluster` as the session's own client certificate (csr mode). */
function sessionKubeConfig(
  cluster: NonNullable<ReturnType<KubeConfig['getCurrentCluster']>>,
  user: string,
  certificatePem: string,
  privateKeyPem: string,
): KubeConfig {
  const session = new KubeConfig();
  session.loadFromOptions({
    clusters: [cluster],
    users: [
      {
        name: user,
        certData: Buffer.from(certificatePem).toString('base64'),
        keyData: Buffer.from(privateKeyPem).toString('base64'),
      },
    ],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return session;
}

/** csr mode: a client certificate per session (see the file comment). */
export function createCsrCredentials(options: CsrCredentialsOptions): KubeCredentials {
  const cluster = options.kubeConfig.getCurrentCluster();
  if (!cluster)
    throw new AirlockError('KUBECONFIG_INVALID', 'the executor kubeconfig has no current cluster');
  const log = options.logger.child({ component: 'executor.kube-credentials' });
  return {
    mode: 'csr',
    async open(subject) {
      const commonName = sessionCommonName(subject.user);
      const expirationSeconds = sessionCertLifetimeSeconds(subject.expiresAt, options.clock());
      // Session ids may hold characters a Kubernetes object name may not: name the CSR by a digest.
      const name = kubeCsrObjectName(
        `exec-${createHash('sha256').update(subject.sessionId).digest('hex').slice(0, 16)}`,
      );
      let csr: Awaited<ReturnType<typeof createCsr>>;
      try {
        csr = await createCsr({ commonName, organizations: subject.groups, keyType: 'ecdsa-p256' });
      } catch (cause) {
        throw unavailable('csr', cause);
      }
      let certificatePem: string;
      try {
        certificatePem = await options.signer.sign({
          name,
          csrPem: csr.csrPem,
          expirationSeconds,
          approvalMessage: `airlock executor: session ${subject.sessionId} of ${subject.user} (${subject.requestId})`,
          labels: { 'app.kubernetes.io/managed-by': 'airlock', 'app.kubernetes.io/component': 'executor' },
        });
      } catch (cause) {
        await options.signer.remove(name);
        throw unavailable(`sign ${name}`, cause);
      }
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(certificatePem);
      } catch (cause) {
        throw unavailable(`parse ${name}`, cause);
      }
      if (new Date(certificate.validTo).getTime() < subject.expiresAt.getTime()) {
        throw unavailable(
          `check ${name}`,
          `the certificate ends at ${new Date(certificate.validTo).toISOString()}, before the session (${subject.expiresAt.toISOString()}); is the signer's --cluster-signing-duration shorter?`,
        );
      }
      const session = sessionKubeConfig(
        cluster,
        `airlock-session-${name}`,
        certificatePem,
        csr.privateKeyPem,
      );
      // The same clients as impersonation mode, without impersonation headers.
      const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const clients: KubeClients = {
        core: () => new CoreV1Api(impersonatingConfiguration(session, undefined, timeout)),
        apps: () => new AppsV1Api(impersonatingConfiguration(session, undefined, timeout)),
        streaming: new ImpersonatingKubeConfig(session, undefined, timeout),
      };
      let released = false;
      return {
        clients: () => clients,
        async release() {
          if (released) return;
          released = true;
          // The key goes with the last reference to this object; the CSR object should be gone already.
          if (!(await options.signer.remove(name))) {
            log.warn({ csr: name, session_id: subject.sessionId }, 'could not delete the session CSR');
          }
        },
      };
    },
  };
}
