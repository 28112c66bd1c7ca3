/**
 * Writes OpenSSH key revocation lists (PROTOCOL.krl), the binary files
 * `ssh-keygen -k` makes and sshd's `RevokedKeys` and `ssh-keygen -Q` read.
 * The inverse of `parseKrl`: `parseKrl(encodeKrl(krl))` equals `krl`.
 *
 * OpenSSH's loader (krl.c `ssh_krl_from_blob`) refuses a KRL that revokes
 * serial 0 (`ssh_krl_revoke_cert_by_serial_range`: "lo == 0" is invalid), so
 * the encoder refuses to write one: a KRL that sshd cannot load would make it
 * refuse every certificate, or worse, be ignored by a tool that skips it.
 * Signature sections are not written (airlock KRLs are trusted files, not
 * signed documents), so a parsed KRL that carried one cannot be re-encoded.
 */
import * as KRL from './krl-format.js';
import type { Krl, KrlCertificateSection } from './revocation.js';
import { bytesEqual, malformed, SshWriter, UINT64_MAX } from './ssh-wire.js';

/** A KRL to write: a parsed {@link Krl} without a signature. */
export type KrlDocument = Omit<Krl, 'signed'> & { readonly signed?: false };

function checkSerial(serial: bigint, what: string): void {
  if (serial <= 0n || serial > UINT64_MAX)
    malformed(`cannot encode KRL: ${what} ${serial} is not in 1..2^64-1`);
}

function encodeCertificateSection(section: KrlCertificateSection): Uint8Array {
  const out = new SshWriter();
  // PROTOCOL.krl: an empty ca_key makes the section apply to any CA.
  out.string(section.caKey ?? new Uint8Array(0));
  out.string(''); // reserved
  if (section.serials.length > 0) {
    const list = new SshWriter();
    for (const serial of section.serials) {
      checkSerial(serial, 'serial');
      list.uint64(serial);
    }
    out.byte(KRL.SECTION_CERT_SERIAL_LIST).string(list.toBytes());
  }
  for (const { min, max } of section.serialRanges) {
    checkSerial(min, 'serial range minimum');
    checkSerial(max, 'serial range maximum');
    if (min > max) malformed(`cannot encode KRL: serial range ${min}-${max} has min > max`);
    out.byte(KRL.SECTION_CERT_SERIAL_RANGE).string(new SshWriter().uint64(min).uint64(max).toBytes());
  }
  for (const { offset, bitmap } of section.serialBitmaps) {
    if (offset < 0n || offset > UINT64_MAX)
      malformed(`cannot encode KRL: bitmap offset ${offset} is not a uint64`);
    if (bitmap < 0n) malformed('cannot encode KRL: a serial bitmap is negative');
    if (offset === 0n && (bitmap & 1n) === 1n)
      malformed('cannot encode KRL: a serial bitmap revokes serial 0');
    // The highest serial the bitmap names must still be a uint64.
    if (bitmap > 0n && offset + BigInt(bitmap.toString(2).length - 1) > UINT64_MAX) {
      malformed('cannot encode KRL: a serial bitmap runs past 2^64-1');
    }
    out.byte(KRL.SECTION_CERT_SERIAL_BITMAP).string(new SshWriter().uint64(offset).mpint(bitmap).toBytes());
  }
  if (section.keyIds.length > 0) {
    const ids = new SshWriter();
    for (const keyId of section.keyIds) ids.string(keyId);
    out.byte(KRL.SECTION_CERT_KEY_ID).string(ids.toBytes());
  }
  return out.toBytes();
}

function stringList(items: readonly Uint8Array[]): Uint8Array {
  const out = new SshWriter();
  for (const item of items) out.string(item);
  return out.toBytes();
}

/**
 * Encodes a KRL (PROTOCOL.krl, format version 1). Sections are written in
 * the order OpenSSH writes them (certificates, explicit keys, SHA1, SHA256);
 * empty sections are left out. Throws `CERT_MALFORMED` for content OpenSSH
 * would refuse to load (serial 0, min > max, wrong fingerprint length) and
 * for a signed KRL.
 */
export function encodeKrl(krl: KrlDocument | Krl): Uint8Array {
  if (krl.signed === true) malformed('cannot encode KRL: signature sections are not supported');
  for (const hash of krl.sha1Fingerprints) {
    if (hash.length !== 20) malformed('cannot encode KRL: a SHA1 fingerprint must be 20 bytes');
  }
  for (const hash of krl.sha256Fingerprints) {
    if (hash.length !== 32) malformed('cannot encode KRL: a SHA256 fingerprint must be 32 bytes');
  }
  const out = new SshWriter()
    .uint64(KRL.MAGIC)
    .uint32(KRL.FORMAT_VERSION)
    .uint64(krl.version)
    .uint64(krl.generatedAt)
    .uint64(0n) // flags: none are defined
    .string('') // reserved
    .string(krl.comment);
  for (const section of krl.certificateSections) {
    out.byte(KRL.SECTION_CERTIFICATES).string(encodeCertificateSection(section));
  }
  if (krl.explicitKeys.length > 0) out.byte(KRL.SECTION_EXPLICIT_KEY).string(stringList(krl.explicitKeys));
  if (krl.sha1Fingerprints.length > 0) {
    out.byte(KRL.SECTION_FINGERPRINT_SHA1).string(stringList(krl.sha1Fingerprints));
  }
  if (krl.sha256Fingerprints.length > 0) {
    out.byte(KRL.SECTION_FINGERPRINT_SHA256).string(stringList(krl.sha256Fingerprints));
  }
  return out.toBytes();
}

/** A KRL that revokes nothing. */
export function emptyKrl(comment = ''): KrlDocument {
  return {
    version: 0n,
    generatedAt: 0n,
    comment,
    certificateSections: [],
    explicitKeys: [],
    sha1Fingerprints: [],
    sha256Fingerprints: [],
  };
}

/** What to revoke: a certificate's serial and/or key id. */
export interface KrlCertificateRevocation {
  /**
   * The signing CA's public key blob: PROTOCOL.krl scopes serials and key ids
   * to a CA. Absent: the key id is revoked under any CA (a section with an
   * empty `ca_key`); a serial always needs its CA.
   */
  readonly caKey?: Uint8Array;
  readonly serial?: bigint;
  readonly keyId?: string;
}

const sameCa = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : bytesEqual(a, b);

function serialRevoked(section: KrlCertificateSection, serial: bigint): boolean {
  return (
    section.serials.includes(serial) ||
    section.serialRanges.some((r) => serial >= r.min && serial <= r.max) ||
    section.serialBitmaps.some((b) => serial >= b.offset && ((b.bitmap >> (serial - b.offset)) & 1n) === 1n)
  );
}

/**
 * Returns a new KRL with `entry` added to the certificate section of its CA,
 * or to the any-CA section when it names none (created if the KRL has none), the version incremented and `generatedAt`
 * set to `now`. Entries already revoked are not repeated. A signed KRL is
 * refused (`CERT_MALFORMED`): its signature could not be kept. Serial 0 cannot be
 * revoked by serial (OpenSSH ignores it); revoke that certificate by key id.
 */
export function addKrlRevocation(
  krl: KrlDocument | Krl,
  entry: KrlCertificateRevocation,
  now: Date,
): KrlDocument {
  if (krl.signed === true) malformed('cannot add to a signed KRL');
  if (entry.serial !== undefined) checkSerial(entry.serial, 'serial');
  if (entry.caKey?.length === 0) malformed('cannot revoke in a KRL with an empty CA key');
  // A serial is only meaningful under the CA that assigned it.
  if (entry.serial !== undefined && entry.caKey === undefined) {
    malformed('cannot revoke a serial in a KRL without the CA key');
  }
  const sections = [...krl.certificateSections];
  let index = sections.findIndex((s) => sameCa(s.caKey, entry.caKey));
  if (index < 0) {
    sections.push({ caKey: entry.caKey, serials: [], serialRanges: [], serialBitmaps: [], keyIds: [] });
    index = sections.length - 1;
  }
  const section = sections[index]!;
  const serials =
    entry.serial === undefined || serialRevoked(section, entry.serial)
      ? section.serials
      : [...section.serials, entry.serial].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const keyIds =
    entry.keyId === undefined || section.keyIds.includes(entry.keyId)
      ? section.keyIds
      : [...section.keyIds, entry.keyId];
  sections[index] = { ...section, serials, keyIds };
  return {
    ...krl,
    signed: false,
    version: krl.version + 1n,
    generatedAt: BigInt(Math.floor(now.getTime() / 1000)),
    certificateSections: sections,
  };
}
