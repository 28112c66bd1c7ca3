/**
 * Certificate builders for tests (shipped as real code, like policy/testing.ts):
 * `issueCustomCertificate` signs whatever profile a test needs, including the
 * malformed ones airlock never issues (a leaf outliving its CA, a missing
 * EKU, a non-CA issuer), so each verifier check can be shown to reject.
 */
import { AirlockError } from '../errors.js';
import { certificatePem, parseCertificate, randomSerialNumber } from './certificate-input.js';
import { type IssuedCertificate, issueSessionGrant } from './leaf-issuer.js';
import { type CryptoKey, type CryptoKeyPair, crypto, x509 } from './provider.js';
import { createTierCa, ECDSA_P256, ECDSA_SHA256, type TierCa } from './tier-ca.js';

/** A key pair and certificate usable as an issuer in {@link issueCustomCertificate}. */
export interface TestIssuer {
  readonly certificate: x509.X509Certificate;
  readonly signingKey: CryptoKey;
}

/** Everything about a certificate a test may want to set. */
export interface CustomCertificateOptions {
  readonly subject: x509.JsonName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: x509.Extension[];
  /** Omit for a self-signed certificate. */
  readonly issuer?: TestIssuer | TierCa;
}

/** A certificate with its PEM, key pair and the issuer shape other calls accept. */
export interface CustomCertificate extends TestIssuer {
  readonly certPem: string;
  readonly keys: CryptoKeyPair;
}

/** Issues a certificate exactly as described, with a fresh ECDSA P-256 key. */
export async function issueCustomCertificate(options: CustomCertificateOptions): Promise<CustomCertificate> {
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const issuer = options.issuer;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: options.subject,
    issuer: issuer === undefined ? options.subject : issuer.certificate.subjectName,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer === undefined ? keys.privateKey : issuer.signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: options.extensions,
  });
  return { certificate, certPem: certificatePem(certificate), keys, signingKey: keys.privateKey };
}

/** A session grant from `ca` for the session `who` names, asked for one hour from `now`. */
export function issueHourGrant(
  ca: TierCa,
  now: Date,
  who: { sessionId: string; user: string; scopeDigest: string },
): Promise<IssuedCertificate> {
  return issueSessionGrant(ca, { ...who, notAfter: new Date(now.getTime() + 3_600_000), now });
}

/** A fresh mediator CA made at `now`, and the DER of an hour's session grant from it for alice. */
export async function mediatorCaWithGrant(
  now: Date,
  grant: { sessionId: string; scopeDigest: string },
): Promise<{ ca: TierCa; grantDer: Uint8Array }> {
  const ca = await createTierCa({ tier: 'mediator', now });
  const issued = await issueHourGrant(ca, now, { ...grant, user: 'alice' });
  return { ca, grantDer: certificateDer(issued.certPem) };
}

/** DER bytes of a PEM certificate. */
export function certificateDer(certPem: string): Uint8Array {
  return new Uint8Array(parseCertificate(certPem).rawData);
}

/**
 * The DER of `certPem` with one byte flipped at the first occurrence of
 * `marker` (an ASCII string inside the to-be-signed part, e.g. the subject
 * CN), so the certificate still parses but its signature no longer matches.
 */
export function tamperTbs(certPem: string, marker: string): Uint8Array {
  const der = certificateDer(certPem);
  const at = Buffer.from(der).indexOf(Buffer.from(marker, 'latin1'));
  if (at < 0) throw new AirlockError('USAGE', `marker ${JSON.stringify(marker)} not in certificate`);
  const copy = Uint8Array.from(der);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}
