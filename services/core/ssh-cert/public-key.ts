/**
 * OpenSSH public keys: the wire blobs of RFC 4253 §6.6 (ssh-rsa), RFC 5656 §3.1
 * (ecdsa-sha2-*), RFC 8709 §4 (ssh-ed25519) and PROTOCOL.u2f (the
 * sk-*@openssh.com security-key types), the one-line text form
 * (`<type> <base64> [comment]`), SHA256 fingerprints as `ssh-keygen -l`
 * prints them, and conversion to Node `KeyObject`s.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bigintToBytes, bytesToBigint, malformed, SshReader, SshWriter } from './ssh-wire.js';

/** The ECDSA curves OpenSSH supports, by their SSH identifier. */
export type EcdsaCurve = 'nistp256' | 'nistp384' | 'nistp521';

/** Every plain key type this library understands. */
export type SshKeyType =
  | 'ssh-ed25519'
  | 'ecdsa-sha2-nistp256'
  | 'ecdsa-sha2-nistp384'
  | 'ecdsa-sha2-nistp521'
  | 'ssh-rsa'
  | 'sk-ssh-ed25519@openssh.com'
  | 'sk-ecdsa-sha2-nistp256@openssh.com';

interface KeyCommon {
  /** The plain (non-certificate) public key blob, as in `authorized_keys`. */
  readonly blob: Uint8Array;
}

export interface Ed25519PublicKey extends KeyCommon {
  readonly type: 'ssh-ed25519';
  /** 32-byte RFC 8032 public key. */
  readonly key: Uint8Array;
}

export interface EcdsaPublicKey extends KeyCommon {
  readonly type: 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ecdsa-sha2-nistp521';
  readonly curve: EcdsaCurve;
  /** Uncompressed SEC1 point `0x04 || X || Y`. */
  readonly point: Uint8Array;
}

export interface RsaPublicKey extends KeyCommon {
  readonly type: 'ssh-rsa';
  readonly e: bigint;
  readonly n: bigint;
}

export interface SkEd25519PublicKey extends KeyCommon {
  readonly type: 'sk-ssh-ed25519@openssh.com';
  readonly key: Uint8Array;
  /** FIDO application (relying party id), usually `ssh:`. */
  readonly application: string;
}

export interface SkEcdsaPublicKey extends KeyCommon {
  readonly type: 'sk-ecdsa-sha2-nistp256@openssh.com';
  readonly curve: 'nistp256';
  readonly point: Uint8Array;
  readonly application: string;
}

/** A parsed OpenSSH public key of any supported type. */
export type SshPublicKey =
  | Ed25519PublicKey
  | EcdsaPublicKey
  | RsaPublicKey
  | SkEd25519PublicKey
  | SkEcdsaPublicKey;

/** Key types a CA may use; security-key CAs are out of scope for airlock. */
export const CA_KEY_TYPES: readonly SshKeyType[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
];

const KEY_TYPES: ReadonlySet<string> = new Set<SshKeyType>([
  ...CA_KEY_TYPES,
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** Field size in bytes of each curve (RFC 5656 §10.1, SEC 2). */
export const CURVE_FIELD_BYTES: Record<EcdsaCurve, number> = { nistp256: 32, nistp384: 48, nistp521: 66 };
const CURVE_JWK: Record<EcdsaCurve, string> = { nistp256: 'P-256', nistp384: 'P-384', nistp521: 'P-521' };

/** OpenSSH refuses RSA moduli below 1024 bits (SSH_RSA_MINIMUM_MODULUS_SIZE). */
const RSA_MIN_BITS = 1024;
/** OpenSSH's upper bound (SSHBUF_MAX_BIGNUM * 8). */
const RSA_MAX_BITS = 16384;

export function isSshKeyType(name: string): name is SshKeyType {
  return KEY_TYPES.has(name);
}

function curveOfType(type: SshKeyType): EcdsaCurve | undefined {
  switch (type) {
    case 'ecdsa-sha2-nistp256':
    case 'sk-ecdsa-sha2-nistp256@openssh.com':
      return 'nistp256';
    case 'ecdsa-sha2-nistp384':
      return 'nistp384';
    case 'ecdsa-sha2-nistp521':
      return 'nistp521';
    default:
      return undefined;
  }
}

/**
 * Reads the type-specific fields of a public key that follow its type name
 * (and, inside a certificate, the nonce). RSA certificates and plain RSA keys
 * both order them `e, n` (RFC 4253 §6.6, PROTOCOL.certkeys).
 */
export function readKeyFields(type: SshKeyType, reader: SshReader): SshPublicKey {
  const fields = new SshWriter().string(type);
  switch (type) {
    case 'ssh-ed25519':
    case 'sk-ssh-ed25519@openssh.com': {
      const key = reader.string('ed25519 public key');
      if (key.length !== 32) malformed('ed25519 public key must be 32 bytes');
      fields.string(key);
      if (type === 'ssh-ed25519') return { type, key, blob: fields.toBytes() };
      const application = reader.text('application');
      fields.string(application);
      return { type, key, application, blob: fields.toBytes() };
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const curve = curveOfType(type)!;
      const curveName = reader.text('curve name');
      if (curveName !== curve) malformed(`curve ${curveName} does not match key type ${type}`);
      const point = reader.string('ecdsa point');
      // OpenSSH only emits uncompressed points (RFC 5656 §3.1, SEC 1 §2.3.3).
      if (point.length !== 1 + 2 * CURVE_FIELD_BYTES[curve] || point[0] !== 0x04) {
        malformed('ecdsa point is not an uncompressed point of the right size');
      }
      fields.string(curve).string(point);
      if (type !== 'sk-ecdsa-sha2-nistp256@openssh.com')
        return { type, curve, point, blob: fields.toBytes() };
      const application = reader.text('application');
      fields.string(application);
      return { type, curve: 'nistp256', point, application, blob: fields.toBytes() };
    }
    case 'ssh-rsa': {
      const e = reader.mpint('rsa exponent');
      const n = reader.mpint('rsa modulus');
      const bits = n.toString(2).length;
      if (n === 0n || bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        malformed(`rsa modulus of ${bits} bits refused`);
      if (e < 3n || e % 2n === 0n) malformed('rsa exponent is invalid');
      fields.mpint(e).mpint(n);
      return { type, e, n, blob: fields.toBytes() };
    }
  }
}

/** Writes the type-specific fields of `key` (without the type name). */
export function writeKeyFields(key: SshPublicKey, writer: SshWriter): SshWriter {
  switch (key.type) {
    case 'ssh-ed25519':
      return writer.string(key.key);
    case 'sk-ssh-ed25519@openssh.com':
      return writer.string(key.key).string(key.application);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return writer.string(key.curve).string(key.point);
    case 'sk-ecdsa-sha2-nistp256@openssh.com':
      return writer.string(key.curve).string(key.point).string(key.application);
    case 'ssh-rsa':
      return writer.mpint(key.e).mpint(key.n);
  }
}

/** Parses a plain public key blob. Throws `CERT_MALFORMED` on any defect. */
export function parsePublicKeyBlob(blob: Uint8Array): SshPublicKey {
  const reader = new SshReader(blob, 'public key');
  const type = reader.text('key type');
  if (!isSshKeyType(type)) malformed(`unsupported public key type ${JSON.stringify(type.slice(0, 64))}`);
  const key = readKeyFields(type, reader);
  reader.end();
  return key;
}

/** A public key line split into its parts. */
export interface PublicKeyLine {
  readonly key: SshPublicKey;
  readonly comment: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Decodes strict base64 (no whitespace, correct padding), or throws `CERT_MALFORMED`. */
export function decodeBase64(text: string, what: string): Uint8Array {
  if (!BASE64.test(text) || text.length % 4 !== 0) malformed(`${what} is not valid base64`);
  const bytes = Uint8Array.from(Buffer.from(text, 'base64'));
  if (Buffer.from(bytes).toString('base64') !== text) malformed(`${what} is not canonical base64`);
  return bytes;
}

/**
 * Splits an OpenSSH one-line key (`<type> <base64> [comment]`, as in `*.pub`
 * files) into its type name, decoded blob and comment. Authorized-keys
 * options before the type are not accepted.
 */
export function splitKeyLine(line: string): { typeName: string; blob: Uint8Array; comment: string } {
  const match = /^\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/.exec(line);
  if (!match) malformed('expected "<type> <base64> [comment]"');
  const typeName = match[1]!;
  const blob = decodeBase64(match[2]!, 'key data');
  return { typeName, blob, comment: match[3] ?? '' };
}

/** Parses a public key line such as the contents of `ssh-keygen`'s `*.pub`. */
export function parsePublicKeyLine(line: string): PublicKeyLine {
  const { typeName, blob, comment } = splitKeyLine(line);
  const key = parsePublicKeyBlob(blob);
  if (key.type !== typeName) malformed(`key line says ${typeName} but the key is ${key.type}`);
  return { key, comment };
}

/**
 * Parses every key in a file that lists one public key per line (the format
 * of sshd's `TrustedUserCAKeys`); blank lines and `#` comments are skipped.
 */
export function parsePublicKeyList(text: string): SshPublicKey[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => parsePublicKeyLine(line).key);
}

/** Formats `<type> <base64> [comment]`. */
export function formatPublicKeyLine(key: SshPublicKey, comment = ''): string {
  const line = `${key.type} ${Buffer.from(key.blob).toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** `SHA256:<unpadded base64>` of a key blob, as `ssh-keygen -l` prints it. */
export function sha256Fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

const keyObjectCache = new WeakMap<SshPublicKey, KeyObject>();

/**
 * Converts a parsed key into a Node `KeyObject` for `crypto.verify`. Node
 * validates the point is on the curve; failures become `CERT_MALFORMED`.
 * For security keys this is the underlying ed25519 / P-256 key.
 */
export function toKeyObject(key: SshPublicKey): KeyObject {
  const cached = keyObjectCache.get(key);
  if (cached) return cached;
  let jwk: Record<string, string>;
  switch (key.type) {
    case 'ssh-ed25519':
    case 'sk-ssh-ed25519@openssh.com':
      jwk = { kty: 'OKP', crv: 'Ed25519', x: base64url(key.key) };
      break;
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const size = CURVE_FIELD_BYTES[key.curve];
      jwk = {
        kty: 'EC',
        crv: CURVE_JWK[key.curve],
        x: base64url(key.point.subarray(1, 1 + size)),
        y: base64url(key.point.subarray(1 + size)),
      };
      break;
    }
    case 'ssh-rsa':
      jwk = { kty: 'RSA', n: base64url(bigintToBytes(key.n)), e: base64url(bigintToBytes(key.e)) };
      break;
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    return malformed(`${key.type} public key is not a valid key`, cause);
  }
  keyObjectCache.set(key, keyObject);
  return keyObject;
}

/** Builds an {@link SshPublicKey} from a Node public (or private) `KeyObject`. */
export function fromKeyObject(keyObject: KeyObject): SshPublicKey {
  const jwk = keyObject.export({ format: 'jwk' });
  const bytes = (value: string | undefined): Uint8Array =>
    Uint8Array.from(Buffer.from(value ?? '', 'base64url'));
  const writer = new SshWriter();
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    writer.string('ssh-ed25519').string(bytes(jwk.x));
  } else if (jwk.kty === 'EC') {
    const curve = (Object.keys(CURVE_JWK) as EcdsaCurve[]).find((c) => CURVE_JWK[c] === jwk.crv);
    if (!curve) malformed(`unsupported curve ${jwk.crv}`);
    const point = new Uint8Array([4, ...bytes(jwk.x), ...bytes(jwk.y)]);
    writer.string(`ecdsa-sha2-${curve}`).string(curve).string(point);
  } else if (jwk.kty === 'RSA') {
    writer
      .string('ssh-rsa')
      .mpint(bytesToBigint(bytes(jwk.e)))
      .mpint(bytesToBigint(bytes(jwk.n)));
  } else {
    malformed(`unsupported key kind ${jwk.kty}`);
  }
  return parsePublicKeyBlob(writer.toBytes());
}
