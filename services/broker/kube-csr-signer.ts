/**
 * Kubernetes client certificates for kubectl (`airlock cred-helper`,
 * `airlock kube-cert`): the pure checks the broker applies before it asks
 * Kubernetes to sign anything, and the lifetime it asks for. The signer
 * itself (the `KubeCsrSigner` port, its implementation over the CSR API and
 * the in-memory double) lives in services/core/kube/kube-csr.ts, shared with the
 * executor's csr mode, and is re-exported here.
 *
 * The apiserver authenticates a certificate from the
 * `kubernetes.io/kube-apiserver-client` signer as user = CN and groups =
 * every O, so the subject IS the identity: the broker refuses any CSR whose
 * subject is not exactly the requester and the scope's `jit:` groups
 * (`checkKubeCsrSubject`). Its own Kubernetes identity is limited by
 * deploy/base/broker-rbac.yaml.
 */
import { AirlockError } from '../core/errors.js';
import { MIN_KUBE_CERT_SECONDS } from '../core/kube/kube-csr.js';
import { readKubeCsrIdentity } from '../core/kube/kube-csr-subject.js';

// The signer itself is shared with the executor's csr mode (services/core/kube/kube-csr.ts).
export {
  type CertificatesApi,
  createKubeCsrSigner,
  createKubeCsrSignerFromApi,
  InMemoryKubeCsrSigner,
  KUBE_CLIENT_SIGNER,
  type KubeCsrSigner,
  type KubeCsrSignerOptions,
  type KubeCsrSignRequest,
  kubeCsrObjectName,
  MIN_KUBE_CERT_SECONDS,
} from '../core/kube/kube-csr.js';

/** kubectl credentials live at most 30 minutes (DESIGN.md, credentials table). */
export const MAX_KUBE_CERT_SECONDS = 1800;

/**
 * `spec.expirationSeconds` for a requested TTL: the TTL, bounded by the
 * remaining validity of the access request and by 30 minutes, but never
 * below the API's minimum of 600 s (so near the end of an access request the
 * certificate may outlive it by up to 10 minutes; see docs/kubectl.md).
 */
export function kubeCertLifetimeSeconds(ttlSeconds: number, remainingSeconds: number): number {
  return Math.max(
    MIN_KUBE_CERT_SECONDS,
    Math.min(Math.floor(ttlSeconds), Math.floor(remainingSeconds), MAX_KUBE_CERT_SECONDS),
  );
}

/** The subject a client CSR must carry: CN is the user, each O one group. */
export interface KubeCsrSubject {
  readonly commonName: string;
  readonly organizations: readonly string[];
}

/**
 * Refuses (`CSR_SUBJECT_MISMATCH`) a CSR whose subject is not exactly
 * `CN=<expected.commonName>` and one `O` per expected group (any order, no
 * repeats, nothing else). Several CNs are refused outright: Go's
 * `pkix.Name` keeps the last CN, so a check that read the first one could be
 * bypassed. Also refuses an unparseable CSR or a bad self-signature
 * (`X509_INVALID`, services/core/kube/kube-csr-subject.ts). Returns the
 * SubjectPublicKeyInfo (DER) of the CSR.
 */
export async function checkKubeCsrSubject(csrPem: string, expected: KubeCsrSubject): Promise<Uint8Array> {
  const {
    commonNames,
    organizations,
    otherAttributes: others,
    publicKey,
  } = await readKubeCsrIdentity(csrPem);
  const want = `CN=${expected.commonName}, O=${[...expected.organizations].join(', O=')}`;
  const mismatch = (why: string) =>
    new AirlockError('CSR_SUBJECT_MISMATCH', `csr subject must be exactly ${want}: ${why}`);
  if (commonNames.length !== 1) throw mismatch(`it has ${commonNames.length} CN attributes`);
  if (commonNames[0] !== expected.commonName) throw mismatch(`CN is ${JSON.stringify(commonNames[0])}`);
  if (others.length > 0) throw mismatch(`it carries other attributes (${others.join(', ')})`);
  if (new Set(organizations).size !== organizations.length) throw mismatch('an O attribute is repeated');
  const extra = organizations.filter((o) => !expected.organizations.includes(o));
  if (extra.length > 0) throw mismatch(`O ${extra.map((o) => JSON.stringify(o)).join(', ')} not granted`);
  const missing = expected.organizations.filter((o) => !organizations.includes(o));
  if (missing.length > 0) throw mismatch(`O ${missing.map((o) => JSON.stringify(o)).join(', ')} missing`);
  return publicKey;
}
