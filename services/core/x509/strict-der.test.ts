import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { parseCertificate } from './certificate-input.js';
import { verifyPeerCertificate } from './peer-verifier.js';
import { strictDerProblem } from './strict-der.js';
import { certificateDer, mediatorCaWithGrant } from './testing.js';
import type { TierCa } from './tier-ca.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let ca: TierCa;
let der: Uint8Array;

beforeAll(async () => {
  ({ ca, grantDer: der } = await mediatorCaWithGrant(NOW, {
    sessionId: 'der',
    scopeDigest: '34'.repeat(32),
  }));
});

/** Offset of the outer signatureAlgorithm: the SEQUENCE after the TBS. */
function outerAlgorithmOffset(bytes: Uint8Array): number {
  const tbsLength = (bytes[6]! << 8) | bytes[7]!; // 30 82 LL LL 30 82 LL LL
  return 8 + tbsLength;
}

describe('strictDerProblem', () => {
  it('accepts what airlock issues', () => {
    expect(strictDerProblem(der)).toBeUndefined();
    expect(strictDerProblem(certificateDer(ca.certPem))).toBeUndefined();
  });

  it('refuses a shortened outer signatureAlgorithm that asn1js would accept (fuzz regression)', async () => {
    const copy = Uint8Array.from(der);
    const at = outerAlgorithmOffset(copy);
    expect([copy[at], copy[at + 1]]).toEqual([0x30, 0x0a]);
    copy[at + 1] = 0x02; // SEQUENCE { 06 08 } + stray OID bytes: BER-ish garbage
    expect(strictDerProblem(copy)).toBeDefined();
    await expect(
      verifyPeerCertificate(copy, { trustedCas: [ca.certPem], usage: 'client', now: NOW }),
    ).rejects.toMatchObject({ code: 'X509_INVALID' });
  });

  it('refuses trailing bytes, unused signature bits and a non-minimal length', () => {
    expect(strictDerProblem(Uint8Array.from([...der, 0]))).toBe('bytes after the certificate');
    const unused = Uint8Array.from(der);
    const bitString = outerAlgorithmOffset(unused) + 12; // 30 0a <10 bytes> 03 LL 00
    expect(unused[bitString]).toBe(0x03);
    unused[bitString + 2] = 0x01;
    expect(strictDerProblem(unused)).toBe('signature BIT STRING has unused bits');
    expect(strictDerProblem(Uint8Array.from([0x30, 0x81, 0x01, 0x05]))).toBe('non-minimal length');
    expect(strictDerProblem(Uint8Array.from([0x30, 0x80, 0x00, 0x00]))).toBe('indefinite length');
  });

  it('refuses an ECDSA signature with a padded INTEGER', () => {
    // Rebuild the signature BIT STRING with r padded by one extra leading zero.
    const at = outerAlgorithmOffset(der) + 12;
    const signature = der.subarray(at + 3); // 30 LL 02 Lr r.. 02 Ls s..
    const rLength = signature[3]!;
    const r = signature.subarray(4, 4 + rLength);
    const rest = signature.subarray(4 + rLength);
    const padded = Uint8Array.from([0x30, signature[1]! + 1, 0x02, rLength + 1, 0x00, ...r, ...rest]);
    const bitString = Uint8Array.from([0x03, padded.length + 1, 0x00, ...padded]);
    const body = Uint8Array.from([...der.subarray(4, at), ...bitString]);
    const rebuilt = Uint8Array.from([0x30, 0x82, body.length >> 8, body.length & 0xff, ...body]);
    expect(strictDerProblem(rebuilt)).toBe('ECDSA signature is not two minimal positive INTEGERs');
    expect(() => parseCertificate(rebuilt)).toThrow(AirlockError);
  });
});
