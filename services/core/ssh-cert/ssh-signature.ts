/**
 * SSH signature blobs (`string format, string blob`, RFC 4253 §6.6) for
 * ssh-ed25519 (RFC 8709 §6), ecdsa-sha2-* (RFC 5656 §3.1.2), rsa-sha2-256/512
 * (RFC 8332 §3) and the security-key formats of PROTOCOL.u2f, which append
 * `byte flags, uint32 counter`.
 */
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { CURVE_FIELD_BYTES, type EcdsaCurve, type SshPublicKey, toKeyObject } from './public-key.js';
import {
  bigintToBytes,
  bigintToFixedBytes,
  bytesToBigint,
  concatBytes,
  malformed,
  SshReader,
  SshWriter,
} from './ssh-wire.js';

/** PROTOCOL.u2f flag: the user touched the authenticator (user presence). */
export const SK_FLAG_USER_PRESENCE = 0x01;
/** PROTOCOL.u2f flag: the authenticator verified the user (PIN / biometric). */
export const SK_FLAG_USER_VERIFICATION = 0x04;

/** A decoded SSH signature blob. */
export interface SshSignature {
  /** Signature algorithm name, e.g. `rsa-sha2-512`. */
  readonly algorithm: string;
  /** The algorithm-specific signature bytes. */
  readonly raw: Uint8Array;
  /** Security-key flags (PROTOCOL.u2f); only for `sk-*` algorithms. */
  readonly skFlags?: number;
  /** Security-key signature counter; only for `sk-*` algorithms. */
  readonly skCounter?: number;
}

/** Parses a signature blob; throws `CERT_MALFORMED` on structural defects. */
export function parseSshSignature(blob: Uint8Array): SshSignature {
  const reader = new SshReader(blob, 'signature');
  const algorithm = reader.text('signature algorithm');
  const raw = reader.string('signature blob');
  if (algorithm.startsWith('sk-')) {
    const skFlags = reader.byte('sk flags');
    const skCounter = reader.uint32('sk counter');
    reader.end();
    return { algorithm, raw, skFlags, skCounter };
  }
  reader.end();
  return { algorithm, raw };
}

/** Outcome of checking a signature: valid, or invalid with a reason for the operator. */
export type SignatureCheck =
  | { readonly valid: true; readonly skFlags?: number; readonly skCounter?: number }
  | { readonly valid: false; readonly reason: string };

const ECDSA_HASH: Record<EcdsaCurve, string> = { nistp256: 'sha256', nistp384: 'sha384', nistp521: 'sha512' };

/**
 * The signature algorithms acceptable for a key. `ssh-rsa` (RSA with SHA-1)
 * is deliberately absent: RFC 8332 superseded it and OpenSSH 8.8 disabled it.
 */
export function allowedSignatureAlgorithms(key: SshPublicKey): readonly string[] {
  return key.type === 'ssh-rsa' ? ['rsa-sha2-256', 'rsa-sha2-512'] : [key.type];
}

/** Decodes `mpint r, mpint s` into the fixed-width IEEE P1363 form Node expects. */
function ecdsaToP1363(raw: Uint8Array, curve: EcdsaCurve): Uint8Array | undefined {
  const reader = new SshReader(raw, 'ecdsa signature');
  const r = reader.mpint('r');
  const s = reader.mpint('s');
  reader.end();
  const size = CURVE_FIELD_BYTES[curve];
  if (r === 0n || s === 0n || bigintToBytes(r).length > size || bigintToBytes(s).length > size)
    return undefined;
  return concatBytes(bigintToFixedBytes(r, size), bigintToFixedBytes(s, size));
}

/**
 * Verifies `signatureBlob` over `data` with `key`. Structural defects throw
 * `CERT_MALFORMED`; a well-formed signature that does not verify, or uses an
 * algorithm the key does not allow, returns `{ valid: false }`. For
 * security-key algorithms the signed message is
 * `sha256(application) || flags || counter || sha256(data)` (PROTOCOL.u2f);
 * whether the flags satisfy policy is left to the caller.
 */
export function verifySshSignature(
  key: SshPublicKey,
  signatureBlob: Uint8Array,
  data: Uint8Array,
): SignatureCheck {
  const signature = parseSshSignature(signatureBlob);
  if (!allowedSignatureAlgorithms(key).includes(signature.algorithm)) {
    return {
      valid: false,
      reason: `signature algorithm ${signature.algorithm.slice(0, 64)} is not accepted for a ${key.type} key`,
    };
  }
  const keyObject = toKeyObject(key);
  let ok: boolean;
  try {
    ok = verifyRaw(key, keyObject, signature, data);
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    // OpenSSL rejects some invalid encodings by throwing rather than returning false.
    return { valid: false, reason: `${signature.algorithm} signature could not be checked` };
  }
  if (!ok) return { valid: false, reason: `${signature.algorithm} signature does not verify` };
  if (signature.skFlags === undefined) return { valid: true };
  return { valid: true, skFlags: signature.skFlags, skCounter: signature.skCounter ?? 0 };
}

function verifyRaw(
  key: SshPublicKey,
  keyObject: KeyObject,
  signature: SshSignature,
  data: Uint8Array,
): boolean {
  switch (key.type) {
    case 'ssh-ed25519':
      if (signature.raw.length !== 64) malformed('ed25519 signature must be 64 bytes');
      return cryptoVerify(null, data, keyObject, signature.raw);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const p1363 = ecdsaToP1363(signature.raw, key.curve);
      if (!p1363) return false;
      return cryptoVerify(ECDSA_HASH[key.curve], data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, p1363);
    }
    case 'ssh-rsa': {
      const modulusBytes = bigintToBytes(key.n).length;
      // OpenSSH (ssh_rsa_verify) accepts signatures shorter than the modulus and left-pads them.
      if (signature.raw.length > modulusBytes || signature.raw.length === 0) return false;
      const padded = new Uint8Array(modulusBytes);
      padded.set(signature.raw, modulusBytes - signature.raw.length);
      const hash = signature.algorithm === 'rsa-sha2-512' ? 'sha512' : 'sha256';
      return cryptoVerify(hash, data, keyObject, padded);
    }
    case 'sk-ssh-ed25519@openssh.com':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const message = skSignedMessage(
        key.application,
        signature.skFlags ?? 0,
        signature.skCounter ?? 0,
        data,
      );
      if (key.type === 'sk-ssh-ed25519@openssh.com') {
        if (signature.raw.length !== 64) malformed('ed25519 signature must be 64 bytes');
        return cryptoVerify(null, message, keyObject, signature.raw);
      }
      const p1363 = ecdsaToP1363(signature.raw, 'nistp256');
      if (!p1363) return false;
      return cryptoVerify('sha256', message, { key: keyObject, dsaEncoding: 'ieee-p1363' }, p1363);
    }
  }
}

/**
 * The bytes a FIDO authenticator signs for an SSH security key
 * (PROTOCOL.u2f "SSH U2F signatures"):
 * `sha256(application) || byte flags || uint32 counter || sha256(message)`.
 */
export function skSignedMessage(
  application: string,
  flags: number,
  counter: number,
  message: Uint8Array,
): Uint8Array {
  return new SshWriter()
    .raw(createHash('sha256').update(application).digest())
    .byte(flags)
    .uint32(counter)
    .raw(createHash('sha256').update(message).digest())
    .toBytes();
}

/**
 * Signs `data` with a non-security-key private key and returns the SSH
 * signature blob. RSA keys sign with `rsa-sha2-512` unless told otherwise.
 */
export function signSshData(
  publicKey: SshPublicKey,
  privateKey: KeyObject,
  data: Uint8Array,
  rsaAlgorithm: 'rsa-sha2-256' | 'rsa-sha2-512' = 'rsa-sha2-512',
): Uint8Array {
  switch (publicKey.type) {
    case 'ssh-ed25519':
      return new SshWriter()
        .string(publicKey.type)
        .string(cryptoSign(null, data, privateKey))
        .toBytes();
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const size = CURVE_FIELD_BYTES[publicKey.curve];
      const p1363 = cryptoSign(ECDSA_HASH[publicKey.curve], data, {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      const inner = new SshWriter()
        .mpint(bytesToBigint(p1363.subarray(0, size)))
        .mpint(bytesToBigint(p1363.subarray(size)))
        .toBytes();
      return new SshWriter().string(publicKey.type).string(inner).toBytes();
    }
    case 'ssh-rsa': {
      const hash = rsaAlgorithm === 'rsa-sha2-512' ? 'sha512' : 'sha256';
      return new SshWriter()
        .string(rsaAlgorithm)
        .string(cryptoSign(hash, data, privateKey))
        .toBytes();
    }
    default:
      throw new RangeError(`cannot sign with a ${publicKey.type} key in software`);
  }
}
