import {
  CA_KEY_TYPES,
  decodeBase64,
  parsePublicKeyBlob,
  readKeyFields,
  type SshKeyType,
  type SshPublicKey,
  splitKeyLine,
  writeKeyFields,
} from './public-key.js';
import { parseSshSignature } from './ssh-signature.js';
import {
  compareBytes,
  decodeUtf8,
  malformed,
  parseOrMalformed,
  SshReader,
  SshWriter,
  UINT64_MAX,
  utf8Bytes,
} from './ssh-wire.js';

/** Certificate type names of PROTOCOL.certkeys and the plain key type each wraps. */
export const CERT_TYPE_TO_KEY_TYPE = {
  'ssh-rsa-cert-v01@openssh.com': 'ssh-rsa',
  'ssh-ed25519-cert-v01@openssh.com': 'ssh-ed25519',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519-cert-v01@openssh.com': 'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': 'sk-ecdsa-sha2-nistp256@openssh.com',
} as const satisfies Record<string, SshKeyType>;

/** A certificate type name such as `ssh-ed25519-cert-v01@openssh.com`. */
export type SshCertType = keyof typeof CERT_TYPE_TO_KEY_TYPE;

/** Returns the certificate type name that wraps a plain key type. */
export function certTypeForKeyType(keyType: SshKeyType): SshCertType {
  const entry = Object.entries(CERT_TYPE_TO_KEY_TYPE).find(([, plain]) => plain === keyType);
  return entry![0] as SshCertType;
}

function isCertType(name: string): name is SshCertType {
  return Object.hasOwn(CERT_TYPE_TO_KEY_TYPE, name);
}

/** PROTOCOL.certkeys: `SSH_CERT_TYPE_USER` = 1, `SSH_CERT_TYPE_HOST` = 2. */
export const SSH_CERT_TYPE_USER = 1;
export const SSH_CERT_TYPE_HOST = 2;

/** `valid_before` value meaning the certificate never expires. */
export const CERT_VALID_FOREVER = UINT64_MAX;

/** A structurally valid, not yet verified, OpenSSH certificate. */
export interface SshCertificate extends CertificateBody {
  readonly certType: SshCertType;
  /** The CA's signature blob (`string format, string blob`). */
  readonly signature: Uint8Array;
  /** The bytes the CA signed: the certificate up to and including the signature key. */
  readonly signedData: Uint8Array;
  /** The whole certificate blob. */
  readonly blob: Uint8Array;
}

/**
 * Reads a critical-options or extensions field: a sequence of
 * `string name, string data` where names are sorted and unique and `data` is
 * empty for flags or itself one `string` holding the value (PROTOCOL.certkeys).
 */
function readOptions(raw: Uint8Array, field: string): Record<string, string> {
  const reader = new SshReader(raw, field);
  const entries: [string, string][] = [];
  let previous: Uint8Array | undefined;
  while (reader.remaining > 0) {
    const nameBytes = reader.string(`${field} name`);
    const name = decodeUtf8(nameBytes, `${field} name`);
    if (name === '') malformed(`${field}: empty name`);
    if (previous && compareBytes(previous, nameBytes) >= 0) {
      malformed(`${field}: names are not sorted and unique at ${JSON.stringify(name.slice(0, 64))}`);
    }
    previous = nameBytes;
    const data = reader.string(`${field} data`);
    let value = '';
    if (data.length > 0) {
      const inner = new SshReader(data, `${field} ${name}`);
      value = inner.text('value');
      inner.end();
    }
    entries.push([name, value]);
  }
  return Object.fromEntries(entries);
}

/** Parses a certificate blob. Throws AirlockError `CERT_MALFORMED` and nothing else. */
export function parseCertificate(blob: Uint8Array): SshCertificate {
  return parseOrMalformed('certificate', () => parseCertificateUnchecked(blob));
}

function parseCertificateUnchecked(blob: Uint8Array): SshCertificate {
  const reader = new SshReader(blob, 'certificate');
  const certType = reader.text('certificate type');
  if (!isCertType(certType))
    malformed(`unsupported certificate type ${JSON.stringify(certType.slice(0, 64))}`);
  const nonce = reader.string('nonce');
  const publicKey = readKeyFields(CERT_TYPE_TO_KEY_TYPE[certType], reader);
  const serial = reader.uint64('serial');
  const typeCode = reader.uint32('type');
  if (typeCode !== SSH_CERT_TYPE_USER && typeCode !== SSH_CERT_TYPE_HOST)
    malformed(`unknown certificate type ${typeCode}`);
  const keyId = reader.text('key id');
  const principalReader = new SshReader(reader.string('valid principals'), 'valid principals');
  const principals: string[] = [];
  while (principalReader.remaining > 0) principals.push(principalReader.text('principal'));
  const validAfter = reader.uint64('valid after');
  const validBefore = reader.uint64('valid before');
  const criticalOptions = readOptions(reader.string('critical options'), 'critical options');
  const extensions = readOptions(reader.string('extensions'), 'extensions');
  reader.string('reserved'); // "currently unused and is ignored" (PROTOCOL.certkeys)
  const signatureKeyBlob = reader.string('signature key');
  const signedData = blob.subarray(0, reader.position);
  const signature = reader.string('signature');
  reader.end();

  const signatureKey = parsePublicKeyBlob(signatureKeyBlob);
  if (!CA_KEY_TYPES.includes(signatureKey.type))
    malformed(`CA key type ${signatureKey.type} is not supported`);
  parseSshSignature(signature); // structural check only; verification happens in the verifier
  return {
    certType,
    nonce,
    publicKey,
    serial,
    type: typeCode === SSH_CERT_TYPE_USER ? 'user' : 'host',
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    signature,
    signedData,
    blob,
  };
}

/** Parses a certificate line (`<cert-type> <base64> [comment]`, as in `*-cert.pub`). */
export function parseCertificateLine(line: string): { certificate: SshCertificate; comment: string } {
  const { typeName, blob, comment } = splitKeyLine(line);
  const certificate = parseCertificate(blob);
  if (certificate.certType !== typeName)
    malformed(`line says ${typeName} but the certificate is ${certificate.certType}`);
  return { certificate, comment };
}

/** Decodes the base64 field of a certificate line without parsing the blob. */
export function certificateBlobFromLine(line: string): Uint8Array {
  const fields = line.trim().split(/\s+/);
  return decodeBase64(fields[1] ?? '', 'certificate data');
}

/** The fields a CA signs, in the order PROTOCOL.certkeys lays them out. */
export interface CertificateBody {
  readonly nonce: Uint8Array;
  /** The certified (user or host) public key. */
  readonly publicKey: SshPublicKey;
  readonly serial: bigint;
  readonly type: 'user' | 'host';
  readonly keyId: string;
  readonly principals: readonly string[];
  /** Seconds since the Unix epoch. */
  readonly validAfter: bigint;
  /** Seconds since the Unix epoch; {@link CERT_VALID_FOREVER} means no expiry. */
  readonly validBefore: bigint;
  /** Critical options by name; flag options map to `''`. */
  readonly criticalOptions: Readonly<Record<string, string>>;
  /** Extensions by name; flag extensions map to `''`. */
  readonly extensions: Readonly<Record<string, string>>;
  /** The CA public key. */
  readonly signatureKey: SshPublicKey;
}

function encodeOptions(options: Readonly<Record<string, string>>): Uint8Array {
  const writer = new SshWriter();
  const names = Object.keys(options)
    .map((name) => ({ name, bytes: utf8Bytes(name) }))
    // PROTOCOL.certkeys: options and extensions "MUST be lexically ordered by name".
    .sort((a, b) => compareBytes(a.bytes, b.bytes));
  for (const { name, bytes } of names) {
    const value = options[name]!;
    writer.string(bytes).string(value === '' ? new Uint8Array(0) : new SshWriter().string(value).toBytes());
  }
  return writer.toBytes();
}

/** Encodes the to-be-signed part of a certificate (everything up to the signature). */
export function encodeCertificateBody(body: CertificateBody): Uint8Array {
  const writer = new SshWriter().string(certTypeForKeyType(body.publicKey.type)).string(body.nonce);
  writeKeyFields(body.publicKey, writer);
  const principals = new SshWriter();
  for (const principal of body.principals) principals.string(principal);
  return writer
    .uint64(body.serial)
    .uint32(body.type === 'user' ? SSH_CERT_TYPE_USER : SSH_CERT_TYPE_HOST)
    .string(body.keyId)
    .string(principals.toBytes())
    .uint64(body.validAfter)
    .uint64(body.validBefore)
    .string(encodeOptions(body.criticalOptions))
    .string(encodeOptions(body.extensions))
    .string(new Uint8Array(0))
    .string(body.signatureKey.blob)
    .toBytes();
}
