/**
 * Kubernetes client certificates through the CSR API, shared by the broker
 * (kubectl credentials: `airlock cred-helper`, `airlock kube-cert`) and the
 * executor (`kubeCredentials: "csr"`, one certificate per session): the
 * `KubeCsrSigner` port, its implementation over client-node's
 * `CertificatesV1Api`, and an in-memory double for tests.
 *
 * The flow follows the Kubernetes docs, "Certificates and Certificate Signing
 * Requests" → "Normal user": a `CertificateSigningRequest` with signerName
 * `kubernetes.io/kube-apiserver-client` and usages `[client auth]` is created,
 * approved (condition `Approved`), signed by kube-controller-manager, and the
 * certificate read from `status.certificate`. The apiserver authenticates the
 * certificate as user = CN and groups = every O, so the subject IS the
 * identity: callers decide it and check it before they sign anything.
 *
 * The caller's own Kubernetes identity may only create/get/delete CSR
 * objects, update their approval, and `approve` for this one signer
 * (deploy/base/broker-rbac.yaml, deploy/components/executor-csr). It never
 * lists CSRs and approves only objects it created itself (UID and
 * resourceVersion preconditions).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CertificatesV1Api,
  type KubeConfig,
  type V1CertificateSigningRequest,
} from '@kubernetes/client-node';
import { AirlockError } from '../errors.js';
import { randomSerialNumber } from '../x509/certificate-input.js';
import { type CryptoKeyPair, crypto, x509 } from '../x509/provider.js';

/** The signer every certificate is requested from (built into kube-controller-manager). */
export const KUBE_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';

/** The CSR API refuses `expirationSeconds` below 600 (10 minutes). */
export const MIN_KUBE_CERT_SECONDS = 600;

/** What a caller asks the signer for. */
export interface KubeCsrSignRequest {
  /** Name of the CertificateSigningRequest object (a DNS subdomain, unique). */
  readonly name: string;
  /** PKCS#10, PEM. Already checked by the caller. */
  readonly csrPem: string;
  /** `spec.expirationSeconds`; at least {@link MIN_KUBE_CERT_SECONDS}. */
  readonly expirationSeconds: number;
  /** The approval condition's message (who and which request), for the cluster's audit log. */
  readonly approvalMessage: string;
  /** Labels on the CSR object. */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Signs one client CSR through Kubernetes.
 *
 * Lifecycle: `sign` creates the CSR object, approves it, waits until the
 * signer has written `status.certificate` (or the implementation's deadline
 * passes), and always tries to delete the object before it settles, signed
 * or not: an issued certificate does not depend on the object (Kubernetes
 * keeps no record of it and cannot revoke it), so nothing is lost by deleting
 * it at once. It rejects with `KUBERNETES_ERROR` when the API refuses a step,
 * the CSR is denied or failed, or no certificate arrives in time. Nothing is
 * cached.
 */
export interface KubeCsrSigner {
  /** Resolves with the issued certificate, PEM. */
  sign(request: KubeCsrSignRequest): Promise<string>;
  /**
   * Deletes the named CSR object if it still exists (`sign`'s own delete may
   * have failed); a missing object is success. Never rejects: it reports
   * whether the object is known to be gone.
   */
  remove(name: string): Promise<boolean>;
}

/** The part of client-node's `CertificatesV1Api` the signer uses (a seam for unit tests). */
export type CertificatesApi = Pick<
  CertificatesV1Api,
  | 'createCertificateSigningRequest'
  | 'replaceCertificateSigningRequestApproval'
  | 'readCertificateSigningRequest'
  | 'deleteCertificateSigningRequest'
>;

/** Options of {@link createKubeCsrSigner}. */
export interface KubeCsrSignerOptions {
  /** How long to wait for the signer; default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Poll interval for `status.certificate`; default 200 ms. */
  readonly pollIntervalMs?: number;
  /** Overridden in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

function kubeError(step: string, cause: unknown): AirlockError {
  const status = (cause as { code?: unknown })?.code;
  return new AirlockError(
    'KUBERNETES_ERROR',
    `Kubernetes refused to ${step} the certificate signing request`,
    {
      detail: `${step}: ${typeof status === 'number' ? `HTTP ${status}: ` : ''}${String((cause as Error)?.message ?? cause)}`,
      cause,
    },
  );
}

/** `call`, one API request; its failure becomes {@link kubeError} of `step`. */
async function kubeStep<T>(step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw kubeError(step, cause);
  }
}

/** Creates the CSR object for `request`; the returned object carries its uid and resourceVersion. */
async function createCsrObject(
  api: CertificatesApi,
  request: KubeCsrSignRequest,
): Promise<V1CertificateSigningRequest> {
  return kubeStep('create', () =>
    api.createCertificateSigningRequest({
      body: {
        metadata: { name: request.name, ...(request.labels ? { labels: { ...request.labels } } : {}) },
        spec: {
          request: Buffer.from(request.csrPem).toString('base64'),
          signerName: KUBE_CLIENT_SIGNER,
          expirationSeconds: request.expirationSeconds,
          usages: ['client auth'],
        },
      },
    }),
  );
}

/**
 * Approves the object exactly as created: metadata.uid and resourceVersion are
 * preconditions, so an object deleted and re-created under this name is never approved.
 */
async function approveCsrObject(
  api: CertificatesApi,
  created: V1CertificateSigningRequest,
  request: KubeCsrSignRequest,
): Promise<void> {
  await kubeStep('approve', () =>
    api.replaceCertificateSigningRequestApproval({
      name: request.name,
      body: {
        ...created,
        status: {
          conditions: [
            {
              type: 'Approved',
              status: 'True',
              reason: 'AirlockApproved',
              message: request.approvalMessage,
            },
          ],
        },
      },
    }),
  );
}

/**
 * The issued certificate (PEM) of the CSR object, read from the object `created`
 * and no other (same uid); rejects when it is denied or failed, or when
 * nothing is issued by `timeoutMs`.
 */
async function awaitIssuedCertificate(
  api: CertificatesApi,
  request: KubeCsrSignRequest,
  created: V1CertificateSigningRequest,
  timing: { timeoutMs: number; pollMs: number; sleep: (ms: number) => Promise<void> },
): Promise<string> {
  const { timeoutMs, pollMs, sleep } = timing;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await kubeStep('read', () => api.readCertificateSigningRequest({ name: request.name }));
    if (current.metadata?.uid !== created.metadata?.uid) {
      throw new AirlockError('KUBERNETES_ERROR', 'the certificate signing request was replaced', {
        detail: `uid ${String(current.metadata?.uid)} is not the created ${String(created.metadata?.uid)}`,
      });
    }
    const refused = current.status?.conditions?.find(
      (c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True',
    );
    if (refused) {
      throw new AirlockError(
        'KUBERNETES_ERROR',
        `the certificate signing request was ${refused.type.toLowerCase()}`,
        {
          detail: `${refused.type}: ${refused.reason ?? ''} ${refused.message ?? ''}`.trim(),
        },
      );
    }
    const issued = current.status?.certificate;
    if (issued !== undefined && issued !== '') return Buffer.from(issued, 'base64').toString('utf8');
    if (Date.now() >= deadline) {
      throw new AirlockError('KUBERNETES_ERROR', 'no certificate was issued in time', {
        detail: `${request.name}: no status.certificate after ${timeoutMs} ms; is the ${KUBE_CLIENT_SIGNER} signer running?`,
      });
    }
    await sleep(pollMs);
  }
}

/** The signer over an API object; {@link createKubeCsrSigner} builds it from a KubeConfig. */
export function createKubeCsrSignerFromApi(
  api: CertificatesApi,
  options: KubeCsrSignerOptions = {},
): KubeCsrSigner {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pollMs = options.pollIntervalMs ?? 200;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  return {
    async remove(name) {
      try {
        await api.deleteCertificateSigningRequest({ name });
        return true;
      } catch (cause) {
        return (cause as { code?: unknown })?.code === 404;
      }
    },
    async sign(request) {
      const created = await createCsrObject(api, request);
      try {
        await approveCsrObject(api, created, request);
        return await awaitIssuedCertificate(api, request, created, { timeoutMs, pollMs, sleep });
      } finally {
        // The object holds nothing secret, but it must not linger: delete it, signed or not.
        await api.deleteCertificateSigningRequest({ name: request.name }).catch(() => {});
      }
    },
  };
}

/** The signer over client-node, with the caller's own (narrow) identity. */
export function createKubeCsrSigner(
  kubeConfig: KubeConfig,
  options: KubeCsrSignerOptions = {},
): KubeCsrSigner {
  return createKubeCsrSignerFromApi(kubeConfig.makeApiClient(CertificatesV1Api), options);
}

/** A name for a CSR object: `airlock-<id>-<random>` (id: an access request or `exec-<session id>`). */
export function kubeCsrObjectName(id: string): string {
  return `airlock-${id}-${randomBytes(4).toString('hex')}`;
}

/**
 * A `KubeCsrSigner` that signs with an in-memory ECDSA P-256 CA, honouring
 * `expirationSeconds`, and records what it was asked. For tests.
 */
export class InMemoryKubeCsrSigner implements KubeCsrSigner {
  /** Every request, in order. */
  readonly requests: KubeCsrSignRequest[] = [];
  /** Every name passed to `remove`, in order. */
  readonly removed: string[] = [];
  /** When set, the next `sign` rejects with it. */
  failNext: AirlockError | undefined;
  #ca: Promise<{ keys: CryptoKeyPair; cert: x509.X509Certificate }> | undefined;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /** The CA certificate, PEM. */
  async caPem(): Promise<string> {
    return (await this.ca()).cert.toString('pem');
  }

  private ca() {
    this.#ca ??= (async () => {
      const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
      const now = this.clock();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        name: 'CN=in-memory kube client CA',
        keys,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 86_400_000),
        signingAlgorithm: algorithm,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
      });
      return { keys, cert };
    })();
    return this.#ca;
  }

  async remove(name: string): Promise<boolean> {
    this.removed.push(name);
    return true;
  }

  async sign(request: KubeCsrSignRequest): Promise<string> {
    this.requests.push(request);
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    const { keys, cert } = await this.ca();
    const csr = new x509.Pkcs10CertificateRequest(request.csrPem);
    const now = this.clock();
    const issued = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialNumber(),
      subject: csr.subjectName,
      issuer: cert.subjectName,
      notBefore: now,
      notAfter: new Date(now.getTime() + request.expirationSeconds * 1000),
      publicKey: csr.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
    });
    return issued.toString('pem');
  }
}
