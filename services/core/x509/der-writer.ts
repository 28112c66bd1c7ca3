/**
 * The few DER encodings (ITU-T X.690 §8, §10) that issuing a session grant
 * needs, written directly. Session grants are issued once per SSH
 * connection; building them through `@peculiar/x509`'s pure-JS ASN.1
 * schemas cost the mediator several milliseconds of CPU each, this a few
 * microseconds. Only definite lengths, only what the grant profile uses.
 */

/** A TLV: tag, DER length, contents. */
export function tlv(tag: number, ...contents: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  const length = body.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const octets: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
    header = Buffer.from([tag, 0x80 | octets.length, ...octets]);
  }
  return Buffer.concat([header, body]);
}

export const sequence = (...items: readonly Uint8Array[]) => tlv(0x30, ...items);
export const set = (...items: readonly Uint8Array[]) => tlv(0x31, ...items);
export const octetString = (bytes: Uint8Array) => tlv(0x04, bytes);
export const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));
/** Context-specific constructed tag [n] (EXPLICIT). */
export const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 | n, inner);
/** BIT STRING with no unused bits. */
export const bitString = (bytes: Uint8Array) => tlv(0x03, Buffer.from([0]), bytes);
export const booleanTrue = () => Buffer.from([0x01, 0x01, 0xff]);

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded (§8.3.2). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsZero = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return tlv(0x02, needsZero ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** An OBJECT IDENTIFIER from dotted decimal (§8.19). */
export function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0))
    throw new Error(`not an OID: ${dotted}`);
  const octets: number[] = [];
  const base128 = (value: number) => {
    const digits = [value % 128];
    for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128))
      digits.unshift(0x80 | (rest % 128));
    octets.push(...digits);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) base128(arc);
  return tlv(0x06, Buffer.from(octets));
}

/**
 * RFC 5280 §4.1.2.5 Time: UTCTime `YYMMDDHHMMSSZ` for 1950–2049, else
 * GeneralizedTime `YYYYMMDDHHMMSSZ`; whole seconds, always UTC.
 */
export function x509Time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const year = date.getUTCFullYear();
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  if (year < 1950 || year > 9999) throw new Error(`year ${year} has no X.509 time`);
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}
