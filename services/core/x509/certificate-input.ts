/**
 * Turning untrusted bytes into a parsed certificate, and the small facts
 * every module here reads from one (fingerprint, first name field).
 * Everything that fails becomes `X509_INVALID`; nothing else escapes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Name, X509Certificate } from '@peculiar/x509';
import { AirlockError } from '../errors.js';
import { x509 } from './provider.js';
import { strictDerProblem } from './strict-der.js';

/** A certificate as PEM text or DER bytes (e.g. `tls.getPeerCertificate().raw`). */
export type CertificateInput = string | Uint8Array;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g;

/** Upper bound on what we are willing to parse; airlock certificates are < 2 KiB. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

function invalid(what: string, reason: string, cause?: unknown): never {
  throw new AirlockError('X509_INVALID', `${what} is not a valid X.509 certificate`, {
    detail: reason,
    cause,
  });
}

/** The DER bytes of every PEM block of type `label` in `text`. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] === label)
      blocks.push(new Uint8Array(Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return blocks;
}

/** PEM-encodes DER bytes with 64-column lines (RFC 7468 §2). */
export function toPem(der: Uint8Array | ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Parses exactly one certificate: a PEM text with one `CERTIFICATE` block, or
 * DER bytes. Throws `X509_INVALID` for anything else.
 */
export function parseCertificate(input: unknown, what = 'certificate'): X509Certificate {
  let der: Uint8Array;
  if (typeof input === 'string') {
    if (input.length > MAX_CERTIFICATE_BYTES * 2) invalid(what, 'PEM text too long');
    const blocks = pemBlocks(input, 'CERTIFICATE');
    if (blocks.length !== 1) invalid(what, `expected one PEM CERTIFICATE block, found ${blocks.length}`);
    der = blocks[0]!;
  } else if (input instanceof Uint8Array) {
    der = input;
  } else {
    invalid(what, 'expected PEM text or DER bytes');
  }
  if (der.length === 0 || der.length > MAX_CERTIFICATE_BYTES) {
    invalid(what, `DER length ${der.length} out of range`);
  }
  const problem = strictDerProblem(der);
  if (problem !== undefined) invalid(what, `not DER: ${problem}`);
  try {
    const certificate = new x509.X509Certificate(Uint8Array.from(der));
    // Touch the fields the verifier reads so a lazily parsed defect surfaces here.
    void certificate.subjectName.toString();
    void certificate.issuerName.toString();
    void certificate.notBefore.getTime();
    void certificate.notAfter.getTime();
    void certificate.extensions.length;
    return certificate;
  } catch (error) {
    return invalid(
      what,
      `DER does not parse: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/**
 * The certificate as PEM ending in a newline. (`@peculiar/x509`'s
 * `toString('pem')` omits the final newline, so two of its PEMs concatenated
 * into a bundle run `-----END CERTIFICATE----------BEGIN` together, which
 * OpenSSL refuses to load.)
 */
export function certificatePem(certificate: X509Certificate): string {
  return toPem(certificate.rawData, 'CERTIFICATE');
}

/** SHA-256 of the certificate's DER, lowercase hex without separators. */
export function certificateFingerprint(certificate: X509Certificate): string {
  return createHash('sha256').update(new Uint8Array(certificate.rawData)).digest('hex');
}

/** First value of `field` (e.g. `CN`) in the certificate's subject. */
export function subjectField(certificate: X509Certificate, field: string): string | undefined {
  return certificate.subjectName.getField(field)[0];
}

/** First value of `field` in the certificate's issuer. */
export function issuerField(certificate: X509Certificate, field: string): string | undefined {
  return certificate.issuerName.getField(field)[0];
}

/**
 * A random positive 128-bit serial number as hex (RFC 5280 §4.1.2.2: positive,
 * at most 20 octets; CA/B BR 7.1: at least 64 bits of CSPRNG output). The top
 * bit is cleared so the DER INTEGER stays positive, and the first octet is
 * kept non-zero so its encoding stays minimal: 126 random bits.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** `date` truncated to whole seconds, the resolution of X.509 Time. */
export function floorToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * A distinguished name from literal values, one attribute per RDN, each a
 * UTF8String (RFC 5280 §4.1.2.4). Values are taken verbatim: `@peculiar/x509`
 * would otherwise treat plain JSON strings as RFC 4514 text and, for example,
 * turn `alice, "ops"` into `ops`.
 */
export function literalName(attributes: readonly (readonly [type: string, value: string])[]): Name {
  return new x509.Name(attributes.map(([type, value]) => ({ [type]: [{ utf8String: value }] })));
}
