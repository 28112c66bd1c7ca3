/**
 * Reading the identity out of a client CSR for the
 * `kubernetes.io/kube-apiserver-client` signer, strictly, for everyone who
 * decides on one: the broker (`checkKubeCsrSubject`, exactly the requester
 * and the scope's groups) and the CSR approval webhook
 * (services/admission: any person, groups the policy can render).
 *
 * The apiserver authenticates the signed certificate as user = CN and
 * groups = every O (Kubernetes docs, "Authenticating" → "X509 client
 * certificates"), so every attribute is reported, not just the first of
 * each: Go's `pkix.Name` keeps the LAST CN, so a reader of the first one
 * could be fooled by a subject with two.
 */
import { AirlockError } from '../errors.js';
import { pemBlocks } from '../x509/certificate-input.js';
import { x509 } from '../x509/provider.js';

const COMMON_NAME = '2.5.4.3';
const ORGANIZATION = '2.5.4.10';
/** RFC 5280 §4.2.1.6; the kube-apiserver-client signer copies requested SANs into the certificate. */
export const SUBJECT_ALT_NAME = '2.5.29.17';

/** What a well-formed, self-signed client CSR asks for. */
export interface KubeCsrIdentity {
  /** Every CN value, in order (a valid request has exactly one). */
  readonly commonNames: readonly string[];
  /** Every O value, in order: the groups. */
  readonly organizations: readonly string[];
  /** The names or OIDs of every other subject attribute. */
  readonly otherAttributes: readonly string[];
  /** The OIDs of every requested X.509 extension. */
  readonly extensionOids: readonly string[];
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
}

/**
 * Parses one PEM `CERTIFICATE REQUEST`, insists on an ECDSA P-256 or
 * Ed25519 key and a valid self-signature, and reports the subject. Throws
 * `X509_INVALID` for anything else.
 */
export async function readKubeCsrIdentity(csrPem: string): Promise<KubeCsrIdentity> {
  const blocks = typeof csrPem === 'string' ? pemBlocks(csrPem, 'CERTIFICATE REQUEST') : [];
  if (blocks.length !== 1) {
    throw new AirlockError('X509_INVALID', 'csr must be one PEM CERTIFICATE REQUEST');
  }
  let request: x509.Pkcs10CertificateRequest;
  let algorithm: { name: string; namedCurve?: string };
  let rdns: ReturnType<x509.Name['toJSON']>;
  let extensionOids: string[];
  try {
    request = new x509.Pkcs10CertificateRequest(Uint8Array.from(blocks[0]!));
    algorithm = request.publicKey.algorithm as { name: string; namedCurve?: string };
    rdns = request.subjectName.toJSON();
    extensionOids = request.extensions.map((e) => e.type);
  } catch (cause) {
    throw new AirlockError('X509_INVALID', 'csr is not a certificate signing request', {
      cause,
      detail: String(cause),
    });
  }
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
  const otherAttributes: string[] = [];
  for (const rdn of rdns) {
    for (const [type, values] of Object.entries(rdn)) {
      const oid = type === 'CN' ? COMMON_NAME : type === 'O' ? ORGANIZATION : type;
      for (const value of values) {
        if (oid === COMMON_NAME) commonNames.push(value);
        else if (oid === ORGANIZATION) organizations.push(value);
        else otherAttributes.push(type);
      }
    }
  }
  return {
    commonNames,
    organizations,
    otherAttributes,
    extensionOids,
    publicKey: new Uint8Array(request.publicKey.rawData),
  };
}
