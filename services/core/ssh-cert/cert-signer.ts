/**
 * Issuing OpenSSH user certificates (PROTOCOL.certkeys), the job of the
 * broker's SSH user CA. The output is byte-compatible with `ssh-keygen -s`:
 * `ssh-keygen -L` shows the same fields and sshd accepts it.
 */
import { randomBytes } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { AIRLOCK_SCOPE_EXTENSION, type AirlockScope, formatAirlockScope } from './airlock-scope.js';
import { CERT_VALID_FOREVER, certTypeForKeyType, encodeCertificateBody } from './certificate.js';
import { parseCidrList } from './cidr.js';
import type { SshPrivateKey } from './private-key.js';
import { CA_KEY_TYPES, type SshPublicKey } from './public-key.js';
import { signSshData } from './ssh-signature.js';
import { concatBytes, SshWriter, UINT64_MAX } from './ssh-wire.js';

/** What to put into a user certificate. */
export interface SignUserCertificateRequest {
  /** The CA key (ed25519, ECDSA, or RSA, which signs with rsa-sha2-512). */
  readonly caPrivateKey: SshPrivateKey;
  /** The user's public key, any supported type including security keys. */
  readonly publicKey: SshPublicKey;
  readonly keyId: string;
  /** Defaults to a random 64-bit serial. */
  readonly serial?: bigint;
  /** At least one principal; OpenSSH would read an empty list as "anyone". */
  readonly principals: readonly string[];
  /** Start of validity (Date, or seconds since the epoch as bigint). */
  readonly validAfter: Date | bigint;
  /** End of validity; `'forever'` encodes 2^64-1. */
  readonly validBefore: Date | bigint | 'forever';
  /** Critical options by name, e.g. `{ 'force-command': 'whoami' }`; `''` for flags. */
  readonly criticalOptions?: Readonly<Record<string, string>>;
  /** Extensions by name, e.g. `{ 'permit-pty': '' }`; `''` for flags. */
  readonly extensions?: Readonly<Record<string, string>>;
  /** Convenience: sets the `airlock-scope@airlock.dev` extension. */
  readonly scope?: AirlockScope;
  /** Defaults to 32 random bytes, as OpenSSH uses. */
  readonly nonce?: Uint8Array;
  /** Comment of the output line; defaults to the key id. */
  readonly comment?: string;
}

/** A freshly signed certificate. */
export interface SignedUserCertificate {
  /** `<cert-type> <base64> <comment>`, the content of a `*-cert.pub` file. */
  readonly line: string;
  readonly blob: Uint8Array;
  readonly serial: bigint;
}

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

function toSeconds(value: Date | bigint, field: string): bigint {
  const seconds = value instanceof Date ? BigInt(Math.floor(value.getTime() / 1000)) : value;
  if (value instanceof Date && Number.isNaN(value.getTime())) usage(`${field} is not a valid date`);
  if (seconds < 0n || seconds > UINT64_MAX) usage(`${field} is out of range`);
  return seconds;
}

/**
 * Signs a user certificate. Options and extensions are written sorted by
 * name, as PROTOCOL.certkeys requires. Invalid requests (no principals, an
 * empty window, a bad `source-address`) throw AirlockError `USAGE`.
 */
export function signUserCertificate(request: SignUserCertificateRequest): SignedUserCertificate {
  return signCertificate(request, 'user');
}

/**
 * Signs a user or host certificate (`certType`, PROTOCOL.certkeys
 * SSH_CERT_TYPE_USER/HOST); the one encoder behind signUserCertificate and
 * signHostCertificate (host-cert-signer.ts), which adds the host rules.
 */
export function signCertificate(
  request: SignUserCertificateRequest,
  certType: 'user' | 'host',
): SignedUserCertificate {
  const ca = request.caPrivateKey;
  if (!CA_KEY_TYPES.includes(ca.publicKey.type)) usage(`a ${ca.publicKey.type} key cannot be a CA`);
  if (request.principals.length === 0) usage('a certificate needs at least one principal');
  const validAfter = toSeconds(request.validAfter, 'validAfter');
  const validBefore =
    request.validBefore === 'forever' ? CERT_VALID_FOREVER : toSeconds(request.validBefore, 'validBefore');
  if (validBefore <= validAfter) usage('validBefore must be after validAfter');
  const criticalOptions = { ...request.criticalOptions };
  const sourceAddress = criticalOptions['source-address'];
  if (sourceAddress !== undefined && !parseCidrList(sourceAddress))
    usage('source-address is not a valid CIDR list');
  const extensions = { ...request.extensions };
  if (request.scope) extensions[AIRLOCK_SCOPE_EXTENSION] = formatAirlockScope(request.scope);
  const serial = request.serial ?? randomBytes(8).readBigUInt64BE(0);
  if (serial < 0n || serial > UINT64_MAX) usage('serial must fit in 64 bits');

  const body = encodeCertificateBody({
    nonce: request.nonce ?? randomBytes(32),
    publicKey: request.publicKey,
    serial,
    type: certType,
    keyId: request.keyId,
    principals: request.principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey: ca.publicKey,
  });
  const signature = signSshData(ca.publicKey, ca.privateKey, body, 'rsa-sha2-512');
  const blob = concatBytes(body, new SshWriter().string(signature).toBytes());
  const comment = request.comment ?? request.keyId;
  const line = `${certTypeForKeyType(request.publicKey.type)} ${Buffer.from(blob).toString('base64')}${comment === '' ? '' : ` ${comment}`}`;
  return { line, blob, serial };
}
