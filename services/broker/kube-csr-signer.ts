/**
 * Kubernetes client certificates for kubectl (`airlock cred-helper`,
 * `airlock kube-cert`): the pure checks the broker applies before it asks
 * Kubernetes to sign anything, and the lifetime it asks for. The signer
 * itself (the `KubeCsrSigner` port, its implementation over the CSR API and
 * the in-memory double) lives in services/core/kube-csr.ts, shared with the
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
import { MIN_KUBE_CERT_SECONDS } from '../core/kube-csr.js';
import { pemBlocks } from '../core/x509/certificate-input.js';
import { x509 } from '../core/x509/provider.js';

// The signer itself is shared with the executor's csr mode (services/core/kube-csr.ts).
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
} from '../core/kube-csr.js';

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

const COMMON_NAME = '2.5.4.3';
const ORGANIZATION = '2.5.4.10';

/**
 * Refuses (`CSR_SUBJECT_MISMATCH`) a CSR whose subject is not exactly
 * `CN=<expected.commonName>` and one `O` per expected group (any order, no
 * repeats, nothing else). Several CNs are refused outright: Go's
 * `pkix.Name` keeps the last CN, so a check that read the first one could be
 * bypassed. Also refuses an unparseable CSR or a bad self-signature
 * (`X509_INVALID`). Returns the SubjectPublicKeyInfo (DER) of the CSR.
 */
export async function checkKubeCsrSubject(csrPem: string, expected: KubeCsrSubject): Promise<Uint8Array> {
  const blocks = typeof csrPem === 'string' ? pemBlocks(csrPem, 'CERTIFICATE REQUEST') : [];
  if (blocks.length !== 1) {
    throw new AirlockError('X509_INVALID', 'csr must be one PEM CERTIFICATE REQUEST');
  }
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(Uint8Array.from(blocks[0]!));
  } catch (cause) {
    throw new AirlockError('X509_INVALID', 'csr is not a certificate signing request', {
      cause,
      detail: String(cause),
    });
  }
  const algorithm = request.publicKey.algorithm as { name: string; namedCurve?: string };
  const supported =
    algorithm.name === 'Ed25519' || (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256');
  if (!supported) {
    throw new AirlockError('X509_INVALID', 'csr key must be ECDSA P-256 or Ed25519', {
      detail: `${algorithm.name} ${algorithm.namedCurve ?? ''}`.trim(),
    });
  }
  let valid = false;
  try {
    valid = await request.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new AirlockError('X509_INVALID', 'csr self-signature does not verify');

  const commonNames: string[] = [];
  const organizations: string[] = [];
  const others: string[] = [];
  for (const rdn of request.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      const oid = type === 'CN' ? COMMON_NAME : type === 'O' ? ORGANIZATION : type;
      for (const value of values) {
        if (oid === COMMON_NAME) commonNames.push(value);
        else if (oid === ORGANIZATION) organizations.push(value);
        else others.push(type);
      }
    }
  }
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
  return new Uint8Array(request.publicKey.rawData);
}
