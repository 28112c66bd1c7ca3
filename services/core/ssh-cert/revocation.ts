/**
 * Certificate revocation: OpenSSH key revocation lists (PROTOCOL.krl, the
 * binary files `ssh-keygen -k` writes) and a plain JSON deny list. Both become
 * a {@link RevocationList}, a pure lookup the verifier consults.
 *
 * Matching follows OpenSSH `ssh_krl_check_key` (krl.c): the certified key and
 * the CA key are each checked against explicit keys and SHA1/SHA256 key
 * fingerprints; the certificate's key id and serial are checked against the
 * certificate sections whose CA matches (or that have no CA, the wildcard).
 * Serial 0 is never revoked by serial, as in OpenSSH.
 */
import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.js';
import type { SshCertificate } from './certificate.js';
import * as KRL from './krl-format.js';
import { sha256Fingerprint } from './public-key.js';
import { decodeUtf8, malformed, parseOrMalformed, SshReader } from './ssh-wire.js';

/** A set of revoked certificates and keys. */
export interface RevocationList {
  /** Returns why `certificate` is revoked, or `undefined` if it is not. */
  revocationReason(certificate: SshCertificate): string | undefined;
}

/** One certificate section of a KRL: revocations scoped to one CA (or any CA). */
export interface KrlCertificateSection {
  /** CA public key blob; `undefined` means any CA (PROTOCOL.krl: empty `ca_key`). */
  readonly caKey: Uint8Array | undefined;
  readonly serials: readonly bigint[];
  readonly serialRanges: readonly { readonly min: bigint; readonly max: bigint }[];
  readonly serialBitmaps: readonly { readonly offset: bigint; readonly bitmap: bigint }[];
  readonly keyIds: readonly string[];
}

/** A parsed OpenSSH KRL. */
export interface Krl {
  readonly version: bigint;
  /** Seconds since the epoch. */
  readonly generatedAt: bigint;
  readonly comment: string;
  readonly certificateSections: readonly KrlCertificateSection[];
  /** Public key blobs revoked outright. */
  readonly explicitKeys: readonly Uint8Array[];
  /** Raw SHA1 hashes of revoked key blobs. */
  readonly sha1Fingerprints: readonly Uint8Array[];
  /** Raw SHA256 hashes of revoked key blobs. */
  readonly sha256Fingerprints: readonly Uint8Array[];
  /** True when the KRL carries signature sections; airlock does not verify them. */
  readonly signed: boolean;
}

function parseCertificateSection(data: Uint8Array): KrlCertificateSection {
  const reader = new SshReader(data, 'KRL certificate section');
  const caKey = reader.string('ca key');
  reader.string('reserved');
  const serials: bigint[] = [];
  const serialRanges: { min: bigint; max: bigint }[] = [];
  const serialBitmaps: { offset: bigint; bitmap: bigint }[] = [];
  const keyIds: string[] = [];
  while (reader.remaining > 0) {
    const type = reader.byte('cert section type');
    const sub = new SshReader(reader.string('cert section data'), 'KRL certificate subsection');
    switch (type) {
      case KRL.SECTION_CERT_SERIAL_LIST:
        while (sub.remaining > 0) serials.push(sub.uint64('serial'));
        break;
      case KRL.SECTION_CERT_SERIAL_RANGE: {
        const min = sub.uint64('serial min');
        const max = sub.uint64('serial max');
        if (min > max) malformed('KRL serial range has min > max');
        serialRanges.push({ min, max });
        break;
      }
      case KRL.SECTION_CERT_SERIAL_BITMAP:
        serialBitmaps.push({ offset: sub.uint64('serial offset'), bitmap: sub.mpint('revoked keys bitmap') });
        break;
      case KRL.SECTION_CERT_KEY_ID:
        while (sub.remaining > 0) keyIds.push(sub.text('key id'));
        break;
      default:
        malformed(`KRL has unknown certificate subsection type 0x${type.toString(16)}`);
    }
    sub.end();
  }
  return { caKey: caKey.length === 0 ? undefined : caKey, serials, serialRanges, serialBitmaps, keyIds };
}

function readStrings(data: Uint8Array, what: string): Uint8Array[] {
  const reader = new SshReader(data, what);
  const out: Uint8Array[] = [];
  while (reader.remaining > 0) out.push(reader.string(what));
  return out;
}

/**
 * Parses a binary KRL (PROTOCOL.krl). Throws `CERT_MALFORMED` on any defect,
 * including unknown section types (OpenSSH refuses those too). Signature
 * sections are accepted but not verified: the KRL is trusted configuration.
 */
export function parseKrl(bytes: Uint8Array): Krl {
  return parseOrMalformed('KRL', () => parseKrlUnchecked(bytes));
}

function parseKrlUnchecked(bytes: Uint8Array): Krl {
  const reader = new SshReader(bytes, 'KRL');
  if (reader.uint64('magic') !== KRL.MAGIC) malformed('not an OpenSSH KRL (bad magic)');
  const format = reader.uint32('format version');
  if (format !== KRL.FORMAT_VERSION) malformed(`unsupported KRL format version ${format}`);
  const version = reader.uint64('krl version');
  const generatedAt = reader.uint64('generated date');
  reader.uint64('flags');
  reader.string('reserved');
  const comment = decodeUtf8(reader.string('comment'), 'KRL comment');
  const certificateSections: KrlCertificateSection[] = [];
  const explicitKeys: Uint8Array[] = [];
  const sha1Fingerprints: Uint8Array[] = [];
  const sha256Fingerprints: Uint8Array[] = [];
  let signed = false;
  while (reader.remaining > 0) {
    const type = reader.byte('section type');
    const data = reader.string('section data');
    if (signed && type !== KRL.SECTION_SIGNATURE) malformed('KRL has a section after its signature');
    switch (type) {
      case KRL.SECTION_CERTIFICATES:
        certificateSections.push(parseCertificateSection(data));
        break;
      case KRL.SECTION_EXPLICIT_KEY:
        explicitKeys.push(...readStrings(data, 'KRL explicit key'));
        break;
      case KRL.SECTION_FINGERPRINT_SHA1:
        for (const hash of readStrings(data, 'KRL SHA1 fingerprint')) {
          if (hash.length !== 20) malformed('KRL SHA1 fingerprint must be 20 bytes');
          sha1Fingerprints.push(hash);
        }
        break;
      case KRL.SECTION_FINGERPRINT_SHA256:
        for (const hash of readStrings(data, 'KRL SHA256 fingerprint')) {
          if (hash.length !== 32) malformed('KRL SHA256 fingerprint must be 32 bytes');
          sha256Fingerprints.push(hash);
        }
        break;
      case KRL.SECTION_SIGNATURE: {
        // PROTOCOL.krl: the signature section is `string signing_key, string signature`.
        signed = true;
        const sig = new SshReader(data, 'KRL signature');
        sig.string('signing key');
        sig.string('signature');
        sig.end();
        break;
      }
      default:
        malformed(`KRL has unknown section type ${type}`);
    }
  }
  return {
    version,
    generatedAt,
    comment,
    certificateSections,
    explicitKeys,
    sha1Fingerprints,
    sha256Fingerprints,
    signed,
  };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Builds a {@link RevocationList} from a parsed KRL. */
export function createKrlRevocationList(krl: Krl): RevocationList {
  const explicit = new Set(krl.explicitKeys.map(hex));
  const sha1 = new Set(krl.sha1Fingerprints.map(hex));
  const sha256 = new Set(krl.sha256Fingerprints.map(hex));
  const keyRevoked = (blob: Uint8Array): string | undefined => {
    if (explicit.has(hex(blob))) return 'explicitly revoked key';
    if (sha1.has(createHash('sha1').update(blob).digest('hex'))) return 'key revoked by SHA1 fingerprint';
    if (sha256.has(createHash('sha256').update(blob).digest('hex')))
      return 'key revoked by SHA256 fingerprint';
    return undefined;
  };
  return {
    revocationReason(certificate) {
      const onKey = keyRevoked(certificate.publicKey.blob);
      if (onKey) return `KRL: ${onKey}`;
      const onCa = keyRevoked(certificate.signatureKey.blob);
      if (onCa) return `KRL: CA ${onCa}`;
      const caHex = hex(certificate.signatureKey.blob);
      for (const section of krl.certificateSections) {
        if (section.caKey !== undefined && hex(section.caKey) !== caHex) continue;
        if (section.keyIds.includes(certificate.keyId)) return 'KRL: key id revoked';
        const serial = certificate.serial;
        // krl.c is_cert_revoked: "zero serials numbers are ignored".
        if (serial === 0n) continue;
        if (section.serials.includes(serial)) return `KRL: serial ${serial} revoked`;
        if (section.serialRanges.some((r) => serial >= r.min && serial <= r.max))
          return `KRL: serial ${serial} revoked`;
        for (const { offset, bitmap } of section.serialBitmaps) {
          if (serial >= offset && ((bitmap >> (serial - offset)) & 1n) === 1n)
            return `KRL: serial ${serial} revoked`;
        }
      }
      return undefined;
    },
  };
}

/** The JSON deny list format: every member optional. */
export interface DenyListDocument {
  /** Serial numbers (decimal strings, or numbers up to 2^53-1). */
  readonly serials?: readonly (string | number)[];
  readonly keyIds?: readonly string[];
  /** `SHA256:...` fingerprints of user or CA keys, as `ssh-keygen -l` prints them. */
  readonly fingerprints?: readonly string[];
}

function denyListInvalid(reason: string): never {
  throw new AirlockError('CERT_MALFORMED', `deny list is invalid: ${reason}`);
}

/**
 * Parses the JSON deny list `{ "serials": [...], "keyIds": [...],
 * "fingerprints": [...] }`. Unknown members and wrongly typed entries are
 * refused with `CERT_MALFORMED`, so a typo cannot silently revoke nothing.
 */
export function parseDenyList(json: string): RevocationList {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    denyListInvalid('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    denyListInvalid('must be an object');
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!['serials', 'keyIds', 'fingerprints'].includes(key)) denyListInvalid(`unknown member ${key}`);
  }
  const list = (name: string): unknown[] => {
    const member = doc[name];
    if (member === undefined) return [];
    if (!Array.isArray(member)) denyListInvalid(`${name} must be an array`);
    return member;
  };
  const serials = new Set<bigint>();
  for (const entry of list('serials')) {
    if (typeof entry === 'number' && Number.isSafeInteger(entry) && entry >= 0) serials.add(BigInt(entry));
    else if (typeof entry === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(entry) && BigInt(entry) < 1n << 64n) {
      serials.add(BigInt(entry));
    } else denyListInvalid(`serial ${JSON.stringify(entry)} is not a uint64`);
  }
  const keyIds = new Set<string>();
  for (const entry of list('keyIds')) {
    if (typeof entry !== 'string') denyListInvalid('keyIds must be strings');
    keyIds.add(entry);
  }
  const fingerprints = new Set<string>();
  for (const entry of list('fingerprints')) {
    if (typeof entry !== 'string' || !/^SHA256:[A-Za-z0-9+/]{43}$/.test(entry)) {
      denyListInvalid(`fingerprint ${JSON.stringify(entry)} is not SHA256:<base64>`);
    }
    fingerprints.add(entry);
  }
  return {
    revocationReason(certificate) {
      if (serials.has(certificate.serial)) return `deny list: serial ${certificate.serial} revoked`;
      if (keyIds.has(certificate.keyId)) return 'deny list: key id revoked';
      if (fingerprints.has(sha256Fingerprint(certificate.publicKey.blob))) return 'deny list: key revoked';
      if (fingerprints.has(sha256Fingerprint(certificate.signatureKey.blob)))
        return 'deny list: CA key revoked';
      return undefined;
    },
  };
}
