/**
 * RFC 4251 §5 wire encoding: `byte`, `uint32`, `uint64`, `string` and
 * `mpint`, plus the nested "string containing a list" shapes that
 * PROTOCOL.certkeys and PROTOCOL.krl build on.
 *
 * The reader is strict: every read is bounds-checked, and any inconsistency
 * (truncation, a length running past the end, trailing bytes where a field
 * must end, a negative or non-minimal mpint) throws AirlockError
 * `CERT_MALFORMED`. Nothing else ever escapes from it.
 */
import { AirlockError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Throws the one error every parser in this folder uses for bad input. */
export function malformed(message: string, cause?: unknown): never {
  throw new AirlockError('CERT_MALFORMED', message, cause === undefined ? {} : { cause });
}

/**
 * Runs `parse`: an AirlockError passes through, any other error becomes
 * `CERT_MALFORMED` "`what` could not be parsed", so a parser throws nothing else.
 */
export function parseOrMalformed<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('CERT_MALFORMED', `${what} could not be parsed`, { cause: error });
  }
}

/** Decodes strict UTF-8, or throws `CERT_MALFORMED` naming `what`. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    return malformed(`${what} is not valid UTF-8`, cause);
  }
}

/** Sequential, bounds-checked reader over an RFC 4251 encoded buffer. */
export class SshReader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    /** Names the structure in error messages (e.g. `certificate`). */
    private readonly what = 'structure',
  ) {}

  /** Bytes not yet read. */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Current read position from the start of the buffer. */
  get position(): number {
    return this.offset;
  }

  private take(length: number, field: string): Uint8Array {
    if (length > this.remaining) malformed(`${this.what} truncated in ${field}`);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  byte(field: string): number {
    return this.take(1, field)[0]!;
  }

  uint32(field: string): number {
    const b = this.take(4, field);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  uint64(field: string): bigint {
    const b = this.take(8, field);
    let value = 0n;
    for (const byte of b) value = (value << 8n) | BigInt(byte);
    return value;
  }

  /** RFC 4251 `string`: uint32 length followed by that many bytes. */
  string(field: string): Uint8Array {
    const length = this.uint32(field);
    return this.take(length, field);
  }

  /** A `string` whose content must be valid UTF-8 text. */
  text(field: string): string {
    return decodeUtf8(this.string(field), `${this.what}: ${field}`);
  }

  /**
   * RFC 4251 `mpint` restricted to non-negative values in minimal form, the
   * only shape OpenSSH emits for keys and signatures.
   */
  mpint(field: string): bigint {
    const raw = this.string(field);
    if (raw.length === 0) return 0n;
    if ((raw[0]! & 0x80) !== 0) malformed(`${this.what}: ${field} is negative`);
    if (raw[0] === 0 && (raw.length === 1 || (raw[1]! & 0x80) === 0)) {
      malformed(`${this.what}: ${field} has a non-minimal encoding`);
    }
    return bytesToBigint(raw);
  }

  /** Returns the unread rest and consumes it. */
  rest(): Uint8Array {
    return this.take(this.remaining, 'rest');
  }

  /** Asserts the buffer has been consumed exactly. */
  end(): void {
    if (this.remaining !== 0) malformed(`${this.what} has ${this.remaining} trailing bytes`);
  }
}

/** Appending writer producing RFC 4251 encodings. */
export class SshWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(chunk: Uint8Array): this {
    this.chunks.push(chunk);
    this.length += chunk.length;
    return this;
  }

  byte(value: number): this {
    return this.push(Uint8Array.of(value & 0xff));
  }

  uint32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0);
    return this.push(b);
  }

  uint64(value: bigint): this {
    if (value < 0n || value > UINT64_MAX) throw new RangeError('uint64 out of range');
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value);
    return this.push(b);
  }

  string(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? utf8Encoder.encode(value) : value;
    this.uint32(bytes.length);
    return this.push(bytes);
  }

  mpint(value: bigint): this {
    if (value < 0n) throw new RangeError('negative mpint');
    if (value === 0n) return this.uint32(0);
    let bytes = bigintToBytes(value);
    if ((bytes[0]! & 0x80) !== 0) bytes = concatBytes(Uint8Array.of(0), bytes);
    return this.string(bytes);
  }

  raw(bytes: Uint8Array): this {
    return this.push(bytes);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** 2^64-1: `valid_before` meaning "forever" (PROTOCOL.certkeys). */
export const UINT64_MAX = (1n << 64n) - 1n;

export function bytesToBigint(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** Minimal big-endian unsigned encoding (empty for zero). */
export function bigintToBytes(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Big-endian unsigned encoding left-padded to exactly `length` bytes. */
export function bigintToFixedBytes(value: bigint, length: number): Uint8Array {
  const bytes = bigintToBytes(value);
  if (bytes.length > length) throw new RangeError('integer does not fit');
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** Lexical byte-wise comparison, the order PROTOCOL.certkeys requires for option names. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
