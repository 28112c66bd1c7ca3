/**
 * OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`, OpenSSH
 * PROTOCOL.key), unencrypted, for ed25519, ECDSA and RSA: enough to load a CA
 * key made by `ssh-keygen` and to write one that `ssh-keygen` reads.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { CURVE_FIELD_BYTES, fromKeyObject, parsePublicKeyBlob, type SshPublicKey } from './public-key.js';
import {
  bigintToBytes,
  bigintToFixedBytes,
  bytesEqual,
  bytesToBigint,
  malformed,
  parseOrMalformed,
  SshReader,
  SshWriter,
} from './ssh-wire.js';

/** A private key with its OpenSSH public key. */
export interface SshPrivateKey {
  readonly publicKey: SshPublicKey;
  readonly privateKey: KeyObject;
  readonly comment: string;
}

const AUTH_MAGIC = 'openssh-key-v1\0';
const PEM_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PEM_END = '-----END OPENSSH PRIVATE KEY-----';
/** Cipher block size of "none" (PROTOCOL.key: padding to the block size, 8). */
const BLOCK_SIZE = 8;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

function readPrivateFields(publicKey: SshPublicKey, reader: SshReader): Record<string, string> {
  switch (publicKey.type) {
    case 'ssh-ed25519': {
      const pk = reader.string('ed25519 public key');
      const sk = reader.string('ed25519 private key');
      // PROTOCOL.key stores the 64-byte "seed || public key" form of RFC 8032.
      if (sk.length !== 64 || !bytesEqual(pk, publicKey.key) || !bytesEqual(sk.subarray(32), pk)) {
        malformed('ed25519 private key does not match its public key');
      }
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(pk), d: b64url(sk.subarray(0, 32)) };
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const curve = reader.text('curve');
      const point = reader.string('ecdsa point');
      const d = reader.mpint('ecdsa private scalar');
      if (curve !== publicKey.curve || !bytesEqual(point, publicKey.point)) {
        malformed('ecdsa private key does not match its public key');
      }
      const size = CURVE_FIELD_BYTES[publicKey.curve];
      const crv = { nistp256: 'P-256', nistp384: 'P-384', nistp521: 'P-521' }[publicKey.curve];
      return {
        kty: 'EC',
        crv,
        x: b64url(point.subarray(1, 1 + size)),
        y: b64url(point.subarray(1 + size)),
        d: b64url(bigintToFixedBytes(d, size)),
      };
    }
    case 'ssh-rsa': {
      const n = reader.mpint('rsa n');
      const e = reader.mpint('rsa e');
      const d = reader.mpint('rsa d');
      const iqmp = reader.mpint('rsa iqmp');
      const p = reader.mpint('rsa p');
      const q = reader.mpint('rsa q');
      if (n !== publicKey.n || e !== publicKey.e || p * q !== n || p < 2n || q < 2n) {
        malformed('rsa private key does not match its public key');
      }
      const big = (value: bigint): string => b64url(bigintToBytes(value));
      return {
        kty: 'RSA',
        n: big(n),
        e: big(e),
        d: big(d),
        p: big(p),
        q: big(q),
        dp: big(d % (p - 1n)),
        dq: big(d % (q - 1n)),
        qi: big(iqmp),
      };
    }
    default:
      return malformed(`${publicKey.type} private keys are not supported`);
  }
}

/**
 * Parses an unencrypted OpenSSH private key file. Encrypted keys are refused
 * (`CERT_MALFORMED`, "encrypted"): decrypt with `ssh-keygen -p` first, or
 * better, keep CA keys in a KMS. Throws `CERT_MALFORMED` on any defect.
 */
export function parseOpenSshPrivateKey(text: string): SshPrivateKey {
  return parseOrMalformed('private key', () => parseUnchecked(text));
}

function parseUnchecked(text: string): SshPrivateKey {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PEM_BEGIN) || !trimmed.endsWith(PEM_END)) malformed('not an OpenSSH private key');
  const body = trimmed.slice(PEM_BEGIN.length, trimmed.length - PEM_END.length).replace(/\s+/g, '');
  const bytes = Uint8Array.from(Buffer.from(body, 'base64'));
  const magic = Buffer.from(AUTH_MAGIC, 'latin1');
  if (!bytesEqual(bytes.subarray(0, magic.length), magic)) malformed('private key has a bad magic');
  const reader = new SshReader(bytes.subarray(magic.length), 'private key');
  const cipher = reader.text('cipher name');
  const kdf = reader.text('kdf name');
  reader.string('kdf options');
  if (cipher !== 'none' || kdf !== 'none') malformed('encrypted private keys are not supported');
  if (reader.uint32('key count') !== 1) malformed('private key file must hold exactly one key');
  const publicKey = parsePublicKeyBlob(reader.string('public key'));
  const section = new SshReader(reader.string('private section'), 'private key section');
  reader.end();
  // PROTOCOL.key: two equal random check integers (they detect a wrong passphrase when encrypted).
  const check1 = section.uint32('check1');
  const check2 = section.uint32('check2');
  if (check1 !== check2) malformed('private key check integers differ');
  const type = section.text('key type');
  if (type !== publicKey.type) malformed('private key type does not match its public key');
  const jwk = readPrivateFields(publicKey, section);
  const comment = section.text('comment');
  const padding = section.rest();
  if (padding.length >= BLOCK_SIZE || padding.some((byte, index) => byte !== index + 1)) {
    malformed('private key padding is invalid');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    return malformed('private key is not a valid key', cause);
  }
  if (!bytesEqual(fromKeyObject(privateKey).blob, publicKey.blob))
    malformed('private key does not match its public key');
  return { publicKey, privateKey, comment };
}

/** Writes `privateKey` in the unencrypted OpenSSH format `ssh-keygen` reads. */
export function formatOpenSshPrivateKey(privateKey: KeyObject, comment = ''): string {
  const publicKey = fromKeyObject(privateKey);
  const jwk = privateKey.export({ format: 'jwk' });
  const bytes = (value: string | undefined): Uint8Array =>
    Uint8Array.from(Buffer.from(value ?? '', 'base64url'));
  const check = randomBytes(4).readUInt32BE(0);
  const section = new SshWriter().uint32(check).uint32(check).string(publicKey.type);
  switch (publicKey.type) {
    case 'ssh-ed25519':
      section.string(publicKey.key).string(new Uint8Array([...bytes(jwk.d), ...publicKey.key]));
      break;
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      section
        .string(publicKey.curve)
        .string(publicKey.point)
        .mpint(bytesToBigint(bytes(jwk.d)));
      break;
    case 'ssh-rsa':
      section
        .mpint(publicKey.n)
        .mpint(publicKey.e)
        .mpint(bytesToBigint(bytes(jwk.d)))
        .mpint(bytesToBigint(bytes(jwk.qi)))
        .mpint(bytesToBigint(bytes(jwk.p)))
        .mpint(bytesToBigint(bytes(jwk.q)));
      break;
    default:
      throw new RangeError(`cannot write a ${publicKey.type} private key`);
  }
  section.string(comment);
  const unpadded = section.toBytes().length;
  for (let i = 1; (unpadded + i - 1) % BLOCK_SIZE !== 0; i++) section.byte(i);
  const file = new SshWriter()
    .raw(Buffer.from(AUTH_MAGIC, 'latin1'))
    .string('none')
    .string('none')
    .string(new Uint8Array(0))
    .uint32(1)
    .string(publicKey.blob)
    .string(section.toBytes())
    .toBytes();
  const lines =
    Buffer.from(file)
      .toString('base64')
      .match(/.{1,70}/g) ?? [];
  return `${PEM_BEGIN}\n${lines.join('\n')}\n${PEM_END}\n`;
}

/** CA key kinds `airlock ca init` can create. */
export type CaKeyKind = 'ed25519' | 'ecdsa-p256';

/** Generates a fresh CA key pair. */
export function generateCaKey(kind: CaKeyKind, comment = ''): SshPrivateKey {
  const { privateKey } =
    kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: fromKeyObject(privateKey), comment };
}
