/**
 * Strict DER checks on the parts of a certificate its signature does not
 * cover. `@peculiar/x509` (asn1js) parses BER leniently, so a holder of a
 * valid certificate could re-encode the outer signatureAlgorithm or the
 * signature BIT STRING and get a different DER, and so a different
 * fingerprint, that still verifies (found by x509-fuzz.test.ts). Certificates
 * are DER (RFC 5280 §4.1, X.690 §10); we insist on it:
 * - every TLV has a definite, minimally encoded length, and every
 *   constructed value is exactly filled by its children, with nothing after
 *   the outer SEQUENCE;
 * - Certificate is SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm
 *   SEQUENCE, signatureValue BIT STRING with 0 unused bits };
 * - signatureAlgorithm is byte-identical to tbsCertificate.signature
 *   (RFC 5280 §4.1.1.2);
 * - for ECDSA, the signature is a DER Ecdsa-Sig-Value with minimal positive
 *   INTEGERs (RFC 5480 §2.2 / RFC 3279 §2.2.3).
 * ECDSA signatures stay malleable ((r, s) and (r, n − s) both verify), so a
 * fingerprint is an identifier of bytes, not of the signed content: key deny
 * lists on serial number or session id.
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the first byte of the TLV. */
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const CONTEXT_0 = 0xa0;
/** 1.2.840.10045.4.3.x (ecdsa-with-SHA2), DER of the OID prefix. */
const ECDSA_WITH_SHA2_PREFIX = Uint8Array.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03]);

/** Reads one TLV at `offset`, within `limit`; returns a reason string when it is not DER. */
function readTlv(der: Uint8Array, offset: number, limit: number): Tlv | string {
  if (offset + 2 > limit) return 'truncated TLV';
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) return 'multi-byte tags are not used in certificates';
  const first = der[offset + 1]!;
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else {
    const count = first & 0x7f;
    if (count === 0) return 'indefinite length';
    if (count > 3) return 'length too large';
    if (offset + 2 + count > limit) return 'truncated length';
    if (der[offset + 2] === 0) return 'non-minimal length';
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
    if (length < 0x80) return 'non-minimal length';
    contentStart = offset + 2 + count;
  }
  const end = contentStart + length;
  if (end > limit) return 'length beyond enclosing value';
  return { tag, start: offset, contentStart, end };
}

/** Checks that `[start, end)` is a sequence of DER TLVs, recursing into constructed ones. */
function checkDerRange(der: Uint8Array, start: number, end: number, depth: number): string | undefined {
  if (depth > 32) return 'nesting too deep';
  let offset = start;
  while (offset < end) {
    const tlv = readTlv(der, offset, end);
    if (typeof tlv === 'string') return tlv;
    if ((tlv.tag & 0x20) !== 0) {
      const inner = checkDerRange(der, tlv.contentStart, tlv.end, depth + 1);
      if (inner !== undefined) return inner;
    }
    offset = tlv.end;
  }
  return undefined;
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const result: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const tlv = readTlv(der, offset, parent.end) as Tlv; // already checked by checkDerRange
    result.push(tlv);
    offset = tlv.end;
  }
  return result;
}

function bytes(der: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(der.subarray(tlv.start, tlv.end));
}

function minimalPositiveInteger(der: Uint8Array, tlv: Tlv): boolean {
  const length = tlv.end - tlv.contentStart;
  if (tlv.tag !== INTEGER || length === 0) return false;
  const first = der[tlv.contentStart]!;
  if (first & 0x80) return false; // negative
  if (first === 0 && (length === 1 || (der[tlv.contentStart + 1]! & 0x80) === 0)) return false; // zero or padded
  return true;
}

/** Why `der` is not a strictly DER-encoded certificate envelope, or undefined when it is. */
export function strictDerProblem(der: Uint8Array): string | undefined {
  const outer = readTlv(der, 0, der.length);
  if (typeof outer === 'string') return outer;
  if (outer.tag !== SEQUENCE) return 'certificate is not a SEQUENCE';
  if (outer.end !== der.length) return 'bytes after the certificate';
  const structural = checkDerRange(der, outer.contentStart, outer.end, 0);
  if (structural !== undefined) return structural;

  const parts = children(der, outer);
  const [tbs, signatureAlgorithm, signatureValue] = parts;
  if (
    parts.length !== 3 ||
    tbs === undefined ||
    signatureAlgorithm === undefined ||
    signatureValue === undefined
  ) {
    return 'certificate must have exactly three parts';
  }
  if (tbs.tag !== SEQUENCE || signatureAlgorithm.tag !== SEQUENCE || signatureValue.tag !== BIT_STRING) {
    return 'certificate parts have the wrong types';
  }
  const tbsParts = children(der, tbs);
  const tbsSignature = tbsParts[0]?.tag === CONTEXT_0 ? tbsParts[2] : tbsParts[1];
  if (tbsSignature === undefined || !bytes(der, tbsSignature).equals(bytes(der, signatureAlgorithm))) {
    return 'signatureAlgorithm differs from tbsCertificate.signature';
  }
  if (signatureValue.end - signatureValue.contentStart < 1 || der[signatureValue.contentStart] !== 0) {
    return 'signature BIT STRING has unused bits';
  }
  const algorithm = bytes(der, signatureAlgorithm);
  const oid = algorithm.subarray(2); // SEQUENCE header of an AlgorithmIdentifier this small is 2 bytes
  if (oid.subarray(0, ECDSA_WITH_SHA2_PREFIX.length).equals(ECDSA_WITH_SHA2_PREFIX)) {
    const signature = der.subarray(signatureValue.contentStart + 1, signatureValue.end);
    const sequence = readTlv(signature, 0, signature.length);
    if (typeof sequence === 'string' || sequence.tag !== SEQUENCE || sequence.end !== signature.length) {
      return 'ECDSA signature is not a DER SEQUENCE';
    }
    if (checkDerRange(signature, sequence.contentStart, sequence.end, 0) !== undefined) {
      return 'ECDSA signature is not DER';
    }
    const integers = children(signature, sequence);
    if (integers.length !== 2 || !integers.every((integer) => minimalPositiveInteger(signature, integer))) {
      return 'ECDSA signature is not two minimal positive INTEGERs';
    }
  }
  return undefined;
}
