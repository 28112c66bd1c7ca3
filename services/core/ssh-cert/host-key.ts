import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError } from '../errors.js';
import { assertPrivateKeyFile } from '../private-key-file.js';
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
}

/**
 * The mediator's ed25519 host key, created on first start (mode 0600) and
 * reused after, so clients can pin it in known_hosts (ssh2 has no host
 * certificates). A key file that is not private to this process is refused
 * (services/core/private-key-file.ts).
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
