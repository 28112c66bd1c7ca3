import { describe, expect, it } from 'vitest';
import { objectIdentifier, octetString, tlv, unsignedInteger, x509Time } from './der-writer.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('der-writer', () => {
  it('writes short and long definite lengths (X.690 §8.1.3)', () => {
    expect(hex(tlv(0x04, Buffer.alloc(3)))).toBe('0403000000');
    expect(hex(tlv(0x04, Buffer.alloc(0x7f))).slice(0, 4)).toBe('047f');
    expect(hex(tlv(0x04, Buffer.alloc(0x80))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(0x04, Buffer.alloc(0x1234))).slice(0, 8)).toBe('04821234');
    expect(hex(octetString(Buffer.from([0xab])))).toBe('0401ab');
  });

  it('writes minimal non-negative INTEGERs (§8.3.2)', () => {
    expect(hex(unsignedInteger(Buffer.from([0x00, 0x00, 0x05])))).toBe('020105');
    expect(hex(unsignedInteger(Buffer.from([0x80])))).toBe('02020080');
    expect(hex(unsignedInteger(Buffer.from([0x00])))).toBe('020100');
    expect(hex(unsignedInteger(Buffer.from([0x7f, 0xff])))).toBe('02027fff');
  });

  it('writes OBJECT IDENTIFIERs in base 128 (§8.19)', () => {
    expect(hex(objectIdentifier('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(objectIdentifier('2.5.29.17'))).toBe('0603551d11');
    expect(hex(objectIdentifier('1.3.6.1.5.5.7.3.2'))).toBe('06082b06010505070302');
    expect(() => objectIdentifier('1')).toThrow();
  });

  it('writes UTCTime until 2049 and GeneralizedTime from 2050, in whole seconds (RFC 5280 §4.1.2.5)', () => {
    expect(Buffer.from(x509Time(new Date('2026-11-27T08:00:00.999Z'))).toString('latin1')).toBe(
      '\u0017\u000d261127080000Z',
    );
    expect(Buffer.from(x509Time(new Date('2049-12-31T23:59:59Z'))).toString('latin1')).toBe(
      '\u0017\u000d491231235959Z',
    );
    expect(Buffer.from(x509Time(new Date('2050-01-01T00:00:00Z'))).toString('latin1')).toBe(
      '\u0018\u000f20500101000000Z',
    );
    expect(() => x509Time(new Date('1949-12-31T23:59:59Z'))).toThrow();
  });
});
