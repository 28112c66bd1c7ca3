/**
 * Verifying a peer's leaf certificate against a set of trusted tier CAs,
 * independently of the TLS stack. The executor runs this on the mediator's
 * session grant after the mTLS handshake, so a grant is only honoured if
 * airlock's own rules (one-level chain, exact EKU, zero clock skew) accept
 * it, whatever the TLS library allowed.
 *
 * Checks, in order (RFC 5280 §6.1 reduced to a one-level path):
 * 1. the input parses as exactly one certificate (`X509_INVALID`);
 * 2. a trusted CA has the leaf's issuer name (and, when both carry key
 *    identifiers, the leaf's authority key id equals the CA's subject key id),
 *    and that CA's key verifies the leaf's signature (`X509_UNTRUSTED`);
 * 3. that CA is a CA: basicConstraints cA=TRUE, keyCertSign if keyUsage is
 *    present, pathLenConstraint ≥ 0 (`X509_UNTRUSTED`);
 * 4. the CA is within its validity window (`X509_NOT_YET_VALID`, `X509_EXPIRED`);
 * 5. the CA belongs to `expectedTier` when one is given (`X509_WRONG_TIER`);
 * 6. the leaf is within its validity window, with no skew allowance;
 *    notBefore and notAfter are inclusive (RFC 5280 §4.1.2.5);
 * 7. the leaf is not a CA, has digitalSignature if keyUsage is present, and
 *    carries an extendedKeyUsage naming the requested usage
 *    (`X509_WRONG_USAGE`); absence of the extension is refused rather than
 *    read as "any purpose";
 * 8. the leaf has no critical extension this module does not understand
 *    (RFC 5280 §4.2) (`X509_UNTRUSTED`).
 * No revocation check: grants live at most 12 hours.
 */
import type { X509Certificate } from '@peculiar/x509';
import { AirlockError, type ErrorCode } from '../errors.js';
import {
  type CertificateInput,
  certificateFingerprint,
  issuerField,
  parseCertificate,
  subjectField,
} from './certificate-input.js';
import { x509 } from './provider.js';
import { type AirlockTier, tierFromCaCommonName } from './tier.js';

/** Which side of a TLS connection the peer is. */
export type PeerUsage = 'client' | 'server';

/** Options of {@link verifyPeerCertificate}. */
export interface VerifyPeerCertificateOptions {
  /** CA certificates (PEM or DER) trusted to issue peer certificates; several during a rotation. */
  readonly trustedCas: Iterable<CertificateInput>;
  /** `client`: the peer must be a TLS client (clientAuth); `server`: a TLS server (serverAuth). */
  readonly usage: PeerUsage;
  readonly now: Date;
  /** When set, the issuing CA must be this tier's CA. */
  readonly expectedTier?: AirlockTier;
}

/** What a successful verification established. */
export interface VerifiedPeerCertificate {
  readonly certificate: X509Certificate;
  /** SHA-256 of the leaf DER, lowercase hex. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly commonName: string | undefined;
  /** The issuing CA and its tier (undefined if its name is not an airlock tier CA name). */
  readonly issuer: X509Certificate;
  readonly issuerFingerprint: string;
  readonly tier: AirlockTier | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const EKU_OID: Record<PeerUsage, string> = {
  client: x509.ExtendedKeyUsage.clientAuth,
  server: x509.ExtendedKeyUsage.serverAuth,
};

/** Extensions whose criticality this verifier honours. */
const UNDERSTOOD_EXTENSIONS = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);

function fail(code: ErrorCode, message: string, detail: string, cause?: unknown): never {
  throw new AirlockError(code, message, { detail, cause });
}

function equalBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function keyIds(leaf: X509Certificate, ca: X509Certificate): { aki?: string; ski?: string } {
  return {
    aki: leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase(),
    ski: ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId.toLowerCase(),
  };
}

function checkWindow(certificate: X509Certificate, now: Date, what: string): void {
  const at = now.getTime();
  if (Number.isNaN(at)) throw new AirlockError('USAGE', 'now is not a valid date');
  if (at < certificate.notBefore.getTime()) {
    fail(
      'X509_NOT_YET_VALID',
      `${what} is not yet valid`,
      `notBefore ${certificate.notBefore.toISOString()} > now ${now.toISOString()}`,
    );
  }
  if (at > certificate.notAfter.getTime()) {
    fail(
      'X509_EXPIRED',
      `${what} has expired`,
      `notAfter ${certificate.notAfter.toISOString()} < now ${now.toISOString()}`,
    );
  }
}

async function signatureVerifies(leaf: X509Certificate, ca: X509Certificate): Promise<boolean> {
  try {
    return await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    return false; // unsupported algorithm, malformed signature or key
  }
}

async function findIssuer(leaf: X509Certificate, cas: readonly X509Certificate[]): Promise<X509Certificate> {
  const issuerName = leaf.issuerName.toArrayBuffer();
  const named = cas.filter((ca) => equalBytes(ca.subjectName.toArrayBuffer(), issuerName));
  const candidates = named.filter((ca) => {
    const { aki, ski } = keyIds(leaf, ca);
    return aki === undefined || ski === undefined || aki === ski;
  });
  if (candidates.length === 0) {
    fail(
      'X509_UNTRUSTED',
      'certificate was not issued by a trusted CA',
      `issuer "${leaf.issuer}" matches none of ${cas.length} trusted CA(s)${named.length > 0 ? ' by key identifier' : ''}`,
    );
  }
  for (const ca of candidates) {
    if (await signatureVerifies(leaf, ca)) return ca;
  }
  return fail(
    'X509_UNTRUSTED',
    'certificate signature does not verify',
    `signature does not verify under ${candidates.length} CA(s) named "${leaf.issuer}"`,
  );
}

function checkIssuerIsCa(ca: X509Certificate): void {
  let basic: x509.BasicConstraintsExtension | null;
  let keyUsage: x509.KeyUsagesExtension | null;
  try {
    basic = ca.getExtension(x509.BasicConstraintsExtension);
    keyUsage = ca.getExtension(x509.KeyUsagesExtension);
  } catch (error) {
    fail('X509_UNTRUSTED', 'issuer is not a valid CA', 'CA extensions do not parse', error);
  }
  if (basic?.ca !== true)
    fail('X509_UNTRUSTED', 'issuer is not a CA', `"${ca.subject}" lacks basicConstraints cA=TRUE`);
  if (basic.pathLength !== undefined && basic.pathLength < 0) {
    fail('X509_UNTRUSTED', 'issuer is not a valid CA', 'negative pathLenConstraint');
  }
  if (keyUsage !== null && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    fail('X509_UNTRUSTED', 'issuer may not sign certificates', `"${ca.subject}" keyUsage lacks keyCertSign`);
  }
}

function checkLeafUsage(leaf: X509Certificate, usage: PeerUsage): void {
  let basic: x509.BasicConstraintsExtension | null;
  let keyUsage: x509.KeyUsagesExtension | null;
  let extendedKeyUsage: x509.ExtendedKeyUsageExtension | null;
  try {
    basic = leaf.getExtension(x509.BasicConstraintsExtension);
    keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
    extendedKeyUsage = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  } catch (error) {
    fail('X509_INVALID', 'certificate extensions are malformed', 'leaf extensions do not parse', error);
  }
  if (basic?.ca === true) {
    fail('X509_WRONG_USAGE', 'a CA certificate cannot be a peer certificate', leaf.subject);
  }
  if (keyUsage !== null && (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    fail(
      'X509_WRONG_USAGE',
      `certificate may not be used as a TLS ${usage}`,
      'keyUsage lacks digitalSignature',
    );
  }
  const usages = (extendedKeyUsage?.usages ?? []).map(String);
  if (!usages.includes(EKU_OID[usage])) {
    fail(
      'X509_WRONG_USAGE',
      `certificate may not be used as a TLS ${usage}`,
      `extendedKeyUsage [${usages.join(', ')}] lacks ${EKU_OID[usage]}`,
    );
  }
  for (const extension of leaf.extensions) {
    if (extension.critical && !UNDERSTOOD_EXTENSIONS.has(extension.type)) {
      fail('X509_UNTRUSTED', 'certificate has an unsupported critical extension', extension.type);
    }
  }
}

/**
 * Trusted CAs parsed from PEM, by their text. The executor verifies every
 * session grant against the same CA bundle; parsing it (pure-JS ASN.1) was
 * most of the cost of a verification. Only what parsed is kept, and a
 * parsed certificate is only read, never changed, so sharing it is safe.
 * Bounded: a bundle rotation adds new texts, and the oldest go.
 */
const parsedCas = new Map<string, X509Certificate>();
const MAX_PARSED_CAS = 32;

function parseTrustedCa(input: CertificateInput, index: number): X509Certificate {
  if (typeof input !== 'string') return parseCertificate(input, `trusted CA #${index + 1}`);
  const cached = parsedCas.get(input);
  if (cached) return cached;
  const parsed = parseCertificate(input, `trusted CA #${index + 1}`);
  if (parsedCas.size >= MAX_PARSED_CAS) parsedCas.delete(parsedCas.keys().next().value!);
  parsedCas.set(input, parsed);
  return parsed;
}

/**
 * Verifies a peer's leaf certificate (PEM or DER) against `trustedCas` at
 * `now`. Pure apart from CPU: no clock, no I/O. Resolves with what was
 * verified; rejects with an {@link AirlockError} whose code is one of
 * `X509_INVALID`, `X509_UNTRUSTED`, `X509_EXPIRED`, `X509_NOT_YET_VALID`,
 * `X509_WRONG_USAGE`, `X509_WRONG_TIER` (or `USAGE` for bad options).
 */
export async function verifyPeerCertificate(
  peerCertificate: CertificateInput,
  options: VerifyPeerCertificateOptions,
): Promise<VerifiedPeerCertificate> {
  try {
    return await verify(peerCertificate, options);
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    // A structure the parser accepted but an accessor chokes on: still just a bad certificate.
    return fail('X509_INVALID', 'peer certificate is malformed', String(error), error);
  }
}

async function verify(
  peerCertificate: CertificateInput,
  options: VerifyPeerCertificateOptions,
): Promise<VerifiedPeerCertificate> {
  const { usage, now, expectedTier } = options;
  if (usage !== 'client' && usage !== 'server')
    throw new AirlockError('USAGE', 'usage must be "client" or "server"');
  if (!(now instanceof Date) || Number.isNaN(now.getTime()))
    throw new AirlockError('USAGE', 'now is not a valid date');
  const cas = [...options.trustedCas].map((ca, index) => parseTrustedCa(ca, index));
  if (cas.length === 0) throw new AirlockError('USAGE', 'no trusted CA given');

  const leaf = parseCertificate(peerCertificate, 'peer certificate');
  const ca = await findIssuer(leaf, cas);
  checkIssuerIsCa(ca);
  checkWindow(ca, now, 'issuing CA');
  const tier = tierFromCaCommonName(subjectField(ca, 'CN'));
  if (expectedTier !== undefined && tier !== expectedTier) {
    fail(
      'X509_WRONG_TIER',
      `certificate was not issued by the ${expectedTier} CA`,
      `issuer "${issuerField(leaf, 'CN') ?? leaf.issuer}" is tier ${tier ?? 'none'}`,
    );
  }
  checkWindow(leaf, now, 'certificate');
  checkLeafUsage(leaf, usage);
  return {
    certificate: leaf,
    fingerprint: certificateFingerprint(leaf),
    subject: leaf.subject,
    commonName: subjectField(leaf, 'CN'),
    issuer: ca,
    issuerFingerprint: certificateFingerprint(ca),
    tier,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}
