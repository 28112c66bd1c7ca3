/**
 * The bytes a client signs to log in with a public key (RFC 4252 §7):
 *
 * ```
 * string    session identifier
 * byte      SSH_MSG_USERAUTH_REQUEST (50)
 * string    user name
 * string    service name ("ssh-connection")
 * string    "publickey"
 * boolean   TRUE
 * string    public key algorithm name
 * string    public key blob (here: the certificate)
 * ```
 *
 * The mediator forwards these bytes and the signature to the executor. A
 * signature is only a login if the bytes it covers are such a request for
 * this very certificate: anything else the key ever signed (an
 * `ssh-keygen -Y sign` file signature, a git commit) must not open a
 * session. The session identifier is the key exchange's hash H (RFC 4253
 * §7.2), different on every connection, which is what makes a once-only
 * rule on these bytes safe for honest users.
 *
 * The input is untrusted (it comes from the mediator): the parser is strict.
 * Every length is bounded, the boolean must be exactly 1, and no byte may
 * follow the key blob. Every refusal is `CERT_BAD_SIGNATURE`, with the defect
 * in `detail`.
 */
import { AirlockError } from '../errors.js';
import type { SshCertificate } from './certificate.js';
import { parseSshSignature } from './ssh-signature.js';
import { bytesEqual, SshReader, SshWriter } from './ssh-wire.js';

/** RFC 4252 §6. */
export const SSH_MSG_USERAUTH_REQUEST = 50;
/** The exchange hash H: SHA-1 (20 bytes) to SHA-512 (64 bytes) (RFC 4253, RFC 5656, RFC 8731). */
export const SESSION_ID_MIN_BYTES = 20;
export const SESSION_ID_MAX_BYTES = 64;
/** Longer than any login name a certificate principal can sensibly be. */
export const USER_NAME_MAX_BYTES = 256;
/** The longest algorithm name of PROTOCOL.certkeys is 43 bytes. */
export const ALGORITHM_MAX_BYTES = 64;
/** OpenSSH's own limit on a certificate (SSHBUF_MAX_BIGNUM aside, a packet is at most 256 KiB). */
export const KEY_BLOB_MAX_BYTES = 16 * 1024;
/** Everything above together, with room for the length fields. */
export const USERAUTH_REQUEST_MAX_BYTES = 20 * 1024;

/** A parsed userauth request: what the user's signature actually covers. */
export interface UserauthRequest {
  readonly sessionId: Uint8Array;
  readonly user: string;
  readonly service: string;
  readonly algorithm: string;
  readonly keyBlob: Uint8Array;
}

function refuse(detail: string): never {
  throw new AirlockError('CERT_BAD_SIGNATURE', 'the signed data is not an SSH login request', { detail });
}

function bounded(reader: SshReader, field: string, min: number, max: number): Uint8Array {
  const value = reader.string(field);
  if (value.length < min || value.length > max) refuse(`${field} is ${value.length} bytes (${min}..${max})`);
  return value;
}

function text(bytes: Uint8Array, field: string): string {
  try {
    // ignoreBOM: a leading U+FEFF is kept, so the text is exactly the bytes.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return refuse(`${field} is not UTF-8`);
  }
}

/** Parses the signed data of a `publickey` login; throws `CERT_BAD_SIGNATURE`. */
export function parseUserauthRequest(data: Uint8Array): UserauthRequest {
  if (data.length > USERAUTH_REQUEST_MAX_BYTES) refuse(`${data.length} bytes is too long`);
  const reader = new SshReader(data, 'userauth request');
  try {
    const sessionId = bounded(reader, 'session identifier', SESSION_ID_MIN_BYTES, SESSION_ID_MAX_BYTES);
    const type = reader.byte('message type');
    if (type !== SSH_MSG_USERAUTH_REQUEST) refuse(`message type ${type} is not SSH_MSG_USERAUTH_REQUEST`);
    const user = text(bounded(reader, 'user name', 1, USER_NAME_MAX_BYTES), 'user name');
    const service = text(bounded(reader, 'service name', 1, 64), 'service name');
    if (service !== 'ssh-connection') refuse('service is not ssh-connection');
    const method = text(bounded(reader, 'method name', 1, 64), 'method name');
    if (method !== 'publickey') refuse('method is not publickey');
    // RFC 4251 §5 reads any non-zero byte as TRUE; every client sends 1, and one spelling is stricter.
    if (reader.byte('has signature') !== 1) refuse('the has-signature boolean is not TRUE (1)');
    const algorithm = text(bounded(reader, 'algorithm', 1, ALGORITHM_MAX_BYTES), 'algorithm');
    const keyBlob = bounded(reader, 'public key blob', 1, KEY_BLOB_MAX_BYTES);
    reader.end();
    return { sessionId, user, service, algorithm, keyBlob };
  } catch (error) {
    // SshReader reports truncation and trailing bytes as CERT_MALFORMED.
    if (error instanceof AirlockError && error.code === 'CERT_MALFORMED') refuse(error.message);
    throw error;
  }
}

/** The inverse of {@link parseUserauthRequest}, for clients and tests. */
export function encodeUserauthRequest(request: Omit<UserauthRequest, 'service'>): Uint8Array {
  return new SshWriter()
    .string(request.sessionId)
    .byte(SSH_MSG_USERAUTH_REQUEST)
    .string(request.user)
    .string('ssh-connection')
    .string('publickey')
    .byte(1)
    .string(request.algorithm)
    .string(request.keyBlob)
    .toBytes();
}

const CERT_SUFFIX = '-cert-v01@openssh.com';

/**
 * The algorithm names a client may announce for `cert`, each with the one
 * signature algorithm it implies: the certificate type itself, and for RSA
 * the RFC 8332 §3.3 names (`rsa-sha2-256-cert-v01@openssh.com`, ...). The
 * SHA-1 `ssh-rsa-cert-v01@openssh.com` is refused, as its signatures are.
 */
function announcedAlgorithms(cert: SshCertificate): ReadonlyMap<string, string> {
  if (cert.publicKey.type === 'ssh-rsa') {
    return new Map([
      [`rsa-sha2-256${CERT_SUFFIX}`, 'rsa-sha2-256'],
      [`rsa-sha2-512${CERT_SUFFIX}`, 'rsa-sha2-512'],
    ]);
  }
  return new Map([[cert.certType, cert.publicKey.type]]);
}

/**
 * Checks that `signedData` is a `publickey` login request for `cert` as
 * `principal`, announcing the algorithm `signature` is made with (as
 * OpenSSH's auth2-pubkey.c does). Does not check the signature itself:
 * `verifyUserCertificate` does. Throws `CERT_BAD_SIGNATURE`.
 */
export function checkUserauthRequest(
  signedData: Uint8Array,
  signature: Uint8Array,
  cert: SshCertificate,
  principal: string,
): UserauthRequest {
  const request = parseUserauthRequest(signedData);
  if (request.user !== principal) refuse('the signed user name is not the login principal');
  if (!bytesEqual(request.keyBlob, cert.blob)) refuse('the signed key is not this certificate');
  const implied = announcedAlgorithms(cert).get(request.algorithm);
  if (implied === undefined) refuse(`algorithm ${request.algorithm} does not fit a ${cert.certType}`);
  let signatureAlgorithm: string;
  try {
    signatureAlgorithm = parseSshSignature(signature).algorithm;
  } catch {
    return refuse('the signature blob does not parse');
  }
  if (signatureAlgorithm !== implied)
    refuse(`signature algorithm ${signatureAlgorithm.slice(0, 64)} is not the announced ${implied}`);
  return request;
}
