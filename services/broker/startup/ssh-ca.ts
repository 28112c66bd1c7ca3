/**
 * The broker's private keys on disk: the SSH user CA (one key file or a
 * keyring directory) and the host CA of ephemeral mode, each refused unless
 * private to this process.
 */
import { readFile } from 'node:fs/promises';
import { watchSshCaKeyring } from '../../core/ca-keyring/watch.js';
import { AirlockError } from '../../core/errors.js';
import { assertPrivateKeyFile } from '../../core/files/private-key-file.js';
import type { FileChangeListener } from '../../core/files/watched-file.js';
import {
  formatPublicKeyLine,
  parseOpenSshPrivateKey,
  type SshPrivateKey,
  sha256Fingerprint,
} from '../../core/ssh-cert/index.js';
import type { BrokerConfig } from '../config.js';

/** The SSH user CA now: the key that signs and every key that is published. */
export type SshCaKeys = () => { active: SshPrivateKey; all: readonly SshPrivateKey[] };

/**
 * Readiness: the SSH CA key file still holds the key this broker signs with
 * (present, 0600 or narrower, same public key). A key removed, exposed or
 * replaced on disk means the operator has to act (restart or fix the mode).
 */
export async function caKeyStillLoaded(
  path: string,
  loaded: { publicKey: { blob: Uint8Array } },
): Promise<boolean> {
  const onDisk = await loadSshCaKey(path);
  return Buffer.from(onDisk.publicKey.blob).equals(Buffer.from(loaded.publicKey.blob));
}

/**
 * Reads the SSH user CA key, refusing a file that is not private to this
 * process (like ssh's "UNPROTECTED PRIVATE KEY FILE" check; the rules,
 * including a Secret volume under fsGroup: services/core/files/private-key-file.ts).
 */
export async function loadSshCaKey(path: string) {
  return loadPrivateKey(path, 'the SSH CA key');
}

/** Reads an OpenSSH private key file, refused unless private to this process (CONFIG_INVALID). */
export async function loadPrivateKey(path: string, what: string): Promise<SshPrivateKey> {
  assertPrivateKeyFile(path, what);
  return parseOpenSshPrivateKey(await readFile(path, 'utf8'));
}

/**
 * The SSH user CA as the broker uses it: the signing key and every key it
 * publishes. From a keyring directory (`sshCaDir`), re-read when
 * `keyring.json` changes, so `airlock ca rotate ssh-user switch` takes
 * effect without a restart (an unreadable keyring fails closed:
 * CONFIG_INVALID, nothing is signed); or one fixed key (`sshCaKeyFile`).
 * Either is read once here, so a bad one stops start-up.
 */
export async function openSshCa(
  config: Pick<BrokerConfig, 'sshCaDir' | 'sshCaKeyFile'>,
  clock: () => Date,
  onChange?: FileChangeListener,
): Promise<SshCaKeys> {
  if (config.sshCaDir !== undefined) {
    const keyring = watchSshCaKeyring(config.sshCaDir, clock, onChange);
    keyring();
    return () => {
      const { active, keys } = keyring();
      return { active, all: keys.map(({ key }) => key) };
    };
  }
  if (config.sshCaKeyFile === undefined) {
    throw new AirlockError('CONFIG_INVALID', 'the broker needs sshCaDir or sshCaKeyFile');
  }
  const key = await loadSshCaKey(config.sshCaKeyFile);
  return () => ({ active: key, all: [key] });
}

/** The SSH user CA's public keys as the API lists them (`GET /v1/ssh-ca`), the signing one marked. */
export function publishedSshCaKeys(sshCa: SshCaKeys) {
  const { active, all } = sshCa();
  return all.map((key) => ({
    publicKey: formatPublicKeyLine(key.publicKey, key.comment),
    fingerprint: sha256Fingerprint(key.publicKey.blob),
    active: key === active,
  }));
}
