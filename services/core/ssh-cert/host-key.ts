import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError } from '../errors.js';
import { assertPrivateKeyFile } from '../files/private-key-file.js';
import { parseCertificateLine } from './certificate.js';
import {
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  generateCaKey,
  parseOpenSshPrivateKey,
  sha256Fingerprint,
} from './index.js';

export interface HostKey {
  /** OpenSSH private key text, for ssh2's `hostKeys`. */
  privateKey: string;
  /** `ssh-ed25519 AAAA...`, for a known_hosts line. */
  publicKeyLine: string;
  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /**
   * The host certificate line (`ssh-ed25519-cert-v01@openssh.com ...`) the
   * server presents besides the plain key, when the airlock host CA
   * certified this key (loadHostCertificate).
   */
  certificate?: string;
}

/**
 * The mediator's ed25519 host key, created on first start (mode 0600) and
 * reused after, so clients can pin it in known_hosts, or trust it through
 * a host certificate (loadHostCertificate). A key file that is not private to this process is refused
 * (services/core/files/private-key-file.ts).
 */
export function loadOrCreateHostKey(path: string): HostKey {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = generateCaKey('ed25519', 'airlock-mediator');
    writeFileSync(path, formatOpenSshPrivateKey(key.privateKey, 'airlock-mediator'), {
      mode: 0o600,
      flag: 'wx',
    });
  }
  assertPrivateKeyFile(path, 'the host key');
  const text = readFileSync(path, 'utf8');
  const key = parseOpenSshPrivateKey(text);
  if (key.publicKey.type !== 'ssh-ed25519') {
    throw new AirlockError('CONFIG_INVALID', `host key ${path} must be ed25519`);
  }
  return {
    privateKey: text,
    publicKeyLine: formatPublicKeyLine(key.publicKey),
    fingerprint: sha256Fingerprint(key.publicKey.blob),
  };
}

/**
 * Reads the host certificate at `path` (a `*-cert.pub` line, as `airlock ca
 * sign-host` writes it) for `hostKey`. Refused with CONFIG_INVALID: not a
 * host certificate, a certificate of another key, or one already expired; a
 * server presenting it would only be refused by every client.
 */
export function loadHostCertificate(path: string, hostKey: HostKey, now: Date): HostKey {
  const line = readFileSync(path, 'utf8').trim();
  const { certificate } = parseCertificateLine(line);
  const plain = parseOpenSshPrivateKey(hostKey.privateKey).publicKey;
  if (certificate.type !== 'host') {
    throw new AirlockError('CONFIG_INVALID', `${path} is a user certificate, not a host certificate`);
  }
  if (sha256Fingerprint(certificate.publicKey.blob) !== sha256Fingerprint(plain.blob)) {
    throw new AirlockError('CONFIG_INVALID', `${path} certifies another key than the host key`);
  }
  if (certificate.validBefore <= BigInt(Math.floor(now.getTime() / 1000))) {
    throw new AirlockError('CONFIG_INVALID', `${path} has expired`);
  }
  return { ...hostKey, certificate: line };
}
