/**
 * A CA keyring on disk: one directory per CA (a Kubernetes Secret mounts as
 * one), holding
 *
 *   keyring.json             the manifest: which keys, which one signs, when each may go
 *   <name>.key               each private key (0600): OpenSSH for ssh-user, PKCS#8 PEM for tier CAs
 *   <name>.crt               each tier CA certificate (PEM)
 *   trusted-user-ca-keys.pub / ca-bundle.pem
 *                            the trust bundle: every key's public half, for the verifiers
 *
 * Readers are synchronous (they run inside `watchFile`); a reader checks
 * every key against the fingerprint in the manifest and refuses SSH user CA
 * private keys that group or others can read (like the broker's
 * `sshCaKeyFile`). Writers replace files by rename, and order
 * their writes so that a reader never sees a manifest naming a missing key:
 * new key files first, manifest last; on retire, manifest first, key files
 * last.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../errors.js';
import { assertPrivateKeyFile } from '../files/private-key-file.js';
import {
  type CaKeyKind,
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  generateCaKey,
  parseOpenSshPrivateKey,
  type SshPrivateKey,
  sha256Fingerprint,
} from '../ssh-cert/index.js';
import { certificateFingerprint, certificatePem, parseCertificate } from '../x509/certificate-input.js';
import { createTierCa, loadTierCa } from '../x509/index.js';
import {
  addKey,
  BUNDLE_FILE,
  type CaKind,
  checkKeyName,
  defaultKeyName,
  formatKeyringManifest,
  type KeyringEntry,
  type KeyringManifest,
  MANIFEST_FILE,
  parseKeyringManifest,
  retireKeys,
  switchKey,
} from './keyring.js';

/** An SSH user CA keyring as the broker uses it. */
export interface SshCaKeyring {
  readonly manifest: KeyringManifest;
  /** The signing key. */
  readonly active: SshPrivateKey;
  /** Every key, in manifest order (the signer included). */
  readonly keys: readonly { readonly entry: KeyringEntry; readonly key: SshPrivateKey }[];
}

/** A tier CA keyring's files as a tier uses them (the key is imported by `loadTierCa`). */
export interface TierCaKeyringFiles {
  readonly manifest: KeyringManifest;
  readonly active: { readonly certPem: string; readonly keyPem: string; readonly fingerprint: string };
  /** Every CA certificate, in manifest order. */
  readonly certPems: readonly string[];
}

function configInvalid(message: string, detail?: string, cause?: unknown): never {
  throw new AirlockError('CONFIG_INVALID', message, { ...(detail ? { detail } : {}), cause });
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return configInvalid(`cannot read ${path}`, (error as Error).message, error);
  }
}

/** Reads a private key file, refusing one that is not private to this process (services/core/files/private-key-file.ts). */
function readPrivate(path: string): string {
  const text = readText(path);
  assertPrivateKeyFile(path, 'the CA key');
  return text;
}

/** The manifest of the keyring in `dir`, or undefined when there is none yet. */
export function readKeyringManifest(dir: string): KeyringManifest | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return configInvalid(`cannot read ${join(dir, MANIFEST_FILE)}`, (error as Error).message, error);
  }
  return parseKeyringManifest(text);
}

function requireManifest(dir: string, ca?: CaKind): KeyringManifest {
  const manifest = readKeyringManifest(dir);
  if (manifest === undefined) configInvalid(`${dir} is not a CA keyring (no ${MANIFEST_FILE})`);
  if (ca !== undefined && manifest.ca !== ca) {
    configInvalid(`${dir} holds the ${manifest.ca} CA keyring, not ${ca}`);
  }
  return manifest;
}

function mismatch(dir: string, entry: KeyringEntry, actual: string): never {
  return configInvalid(
    `${join(dir, `${entry.name}.key`)} is not the key ${MANIFEST_FILE} lists`,
    `expected ${entry.fingerprint}, found ${actual}`,
  );
}

/** Reads an SSH user CA keyring: every key, checked against the manifest. Throws CONFIG_INVALID. */
export function readSshCaKeyring(dir: string, manifest = requireManifest(dir, 'ssh-user')): SshCaKeyring {
  if (manifest.ca !== 'ssh-user') configInvalid(`${dir} holds the ${manifest.ca} CA keyring, not ssh-user`);
  const keys = manifest.keys.map((entry) => {
    let key: SshPrivateKey;
    try {
      key = parseOpenSshPrivateKey(readPrivate(join(dir, `${entry.name}.key`)));
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'CONFIG_INVALID') throw error;
      return configInvalid(
        `${join(dir, `${entry.name}.key`)} is not an OpenSSH private key`,
        undefined,
        error,
      );
    }
    const fingerprint = sha256Fingerprint(key.publicKey.blob);
    if (fingerprint !== entry.fingerprint) mismatch(dir, entry, fingerprint);
    return { entry, key };
  });
  return { manifest, active: keys.find((k) => k.entry.name === manifest.active)!.key, keys };
}

/**
 * Reads a tier CA keyring: every certificate, and the signer's key. The
 * key's match with its certificate is checked by `loadTierCa`.
 */
export function readTierCaKeyring(
  dir: string,
  ca: 'mediator' | 'executor',
  manifest = requireManifest(dir, ca),
): TierCaKeyringFiles {
  if (manifest.ca !== ca) configInvalid(`${dir} holds the ${manifest.ca} CA keyring, not ${ca}`);
  const certPems = manifest.keys.map((entry) => {
    const pem = readText(join(dir, `${entry.name}.crt`));
    let fingerprint: string;
    try {
      fingerprint = certificateFingerprint(parseCertificate(pem, `${entry.name}.crt`));
    } catch (error) {
      return configInvalid(`${join(dir, `${entry.name}.crt`)} is not a certificate`, undefined, error);
    }
    if (fingerprint !== entry.fingerprint) mismatch(dir, entry, fingerprint);
    return pem;
  });
  const index = manifest.keys.findIndex((k) => k.name === manifest.active);
  const active = manifest.keys[index]!;
  return {
    manifest,
    active: {
      certPem: certPems[index]!,
      // Tier CA keys are not mode-checked (as with `certFile`/`keyFile`); the SSH user CA key is.
      keyPem: readText(join(dir, `${active.name}.key`)),
      fingerprint: active.fingerprint,
    },
    certPems,
  };
}

/** The trust bundle of a keyring: one `TrustedUserCAKeys` line per SSH key, or the CA certificates. */
function bundleText(dir: string, manifest: KeyringManifest): string {
  if (manifest.ca === 'ssh-user') {
    return readSshCaKeyring(dir, manifest)
      .keys.map(({ entry, key }) => `${formatPublicKeyLine(key.publicKey, entry.name)}\n`)
      .join('');
  }
  return readTierCaKeyring(dir, manifest.ca, manifest).certPems.join('');
}

/** Replaces `path` by rename, so a reader sees the old or the new content, never half. */
function replaceFile(path: string, content: string, mode: number): void {
  const temporary = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  renameSync(temporary, path);
}

function writeNew(path: string, content: string, mode: number): void {
  try {
    writeFileSync(path, content, { mode, flag: 'wx' }); // never replaces a key
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AirlockError('CA_KEY_EXISTS', `${path} already exists; refusing to overwrite a CA key`);
    }
    throw new AirlockError('USAGE', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** A key about to join a keyring: its files and fingerprint. */
export interface NewCaKey {
  readonly fingerprint: string;
  /** Private key text (OpenSSH or PKCS#8 PEM). */
  readonly keyText: string;
  /** Tier CAs: the certificate PEM. */
  readonly certPem?: string;
}

/** What `add` makes: a new SSH user CA key, or a new self-signed tier CA. */
export async function generateCaKeyFor(
  ca: CaKind,
  options: { now: Date; sshKeyType?: CaKeyKind; validityDays?: number; comment?: string },
): Promise<NewCaKey> {
  if (ca === 'ssh-user') {
    const comment = options.comment ?? 'airlock-user-ca';
    const key = generateCaKey(options.sshKeyType ?? 'ed25519', comment);
    return {
      fingerprint: sha256Fingerprint(key.publicKey.blob),
      keyText: formatOpenSshPrivateKey(key.privateKey, comment),
    };
  }
  const tierCa = await createTierCa({
    tier: ca,
    now: options.now,
    ...(options.validityDays === undefined ? {} : { validityDays: options.validityDays }),
  });
  return { fingerprint: tierCa.fingerprint, keyText: tierCa.privateKeyPem, certPem: tierCa.certPem };
}

/** An existing key to bring into a keyring (migration from `sshCaKeyFile` or `certFile`/`keyFile`). */
export async function importCaKey(
  ca: CaKind,
  files: { keyFile: string; certFile?: string },
): Promise<NewCaKey> {
  const keyText = readText(files.keyFile);
  if (ca === 'ssh-user') {
    const key = parseOpenSshPrivateKey(keyText);
    return { fingerprint: sha256Fingerprint(key.publicKey.blob), keyText };
  }
  if (files.certFile === undefined)
    throw new AirlockError('USAGE', `importing a ${ca} CA needs its certificate file`);
  const tierCa = await loadTierCa(readText(files.certFile), keyText);
  if (tierCa.tier !== ca)
    throw new AirlockError('USAGE', `${files.certFile} is the ${tierCa.tier} tier CA, not ${ca}`);
  return { fingerprint: tierCa.fingerprint, keyText, certPem: certificatePem(tierCa.certificate) };
}

/**
 * `add` on disk: writes the new key's files (never over an existing file),
 * then the trust bundle with it, then the manifest. Creates the keyring
 * (directory 0700) when there is none; its first key signs at once.
 */
export function addKeyToKeyring(
  dir: string,
  ca: CaKind,
  key: NewCaKey,
  options: { now: Date; name?: string },
): { manifest: KeyringManifest; entry: KeyringEntry } {
  const before = readKeyringManifest(dir);
  const name = checkKeyName(options.name ?? defaultKeyName(ca, options.now, randomBytes(3).toString('hex')));
  const manifest = addKey(before, { ca, name, fingerprint: key.fingerprint }, options.now);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeNew(join(dir, `${name}.key`), key.keyText, 0o600);
  try {
    if (key.certPem !== undefined) writeNew(join(dir, `${name}.crt`), key.certPem, 0o644);
    replaceFile(join(dir, BUNDLE_FILE[ca]), bundleText(dir, manifest), 0o644);
    replaceFile(join(dir, MANIFEST_FILE), formatKeyringManifest(manifest), 0o600);
  } catch (error) {
    // Leave no key behind that the manifest does not list, and the bundle as it was.
    unlinkIfPresent(join(dir, `${name}.key`));
    if (key.certPem !== undefined) unlinkIfPresent(join(dir, `${name}.crt`));
    if (before === undefined) unlinkIfPresent(join(dir, BUNDLE_FILE[ca]));
    else replaceFile(join(dir, BUNDLE_FILE[ca]), bundleText(dir, before), 0o644);
    throw error;
  }
  return { manifest, entry: manifest.keys.find((k) => k.name === name)! };
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * `switch` on disk: refuses unless the new signer is in the published
 * bundle (it always is after `add`), then writes the manifest.
 */
export function switchKeyringSigner(
  dir: string,
  options: { ca: CaKind; to?: string; now: Date; maxLifetimeSeconds: number },
): { manifest: KeyringManifest; from: KeyringEntry; to: KeyringEntry } {
  const before = requireManifest(dir, options.ca);
  const manifest = switchKey(before, options);
  const published = readText(join(dir, BUNDLE_FILE[options.ca]));
  if (published !== bundleText(dir, before)) {
    throw new AirlockError(
      'CA_ROTATION_STATE',
      `${join(dir, BUNDLE_FILE[options.ca])} does not match the keyring; refusing to switch`,
      { detail: 'Re-run the add step, publish the bundle and let it reach every tier before switching.' },
    );
  }
  replaceFile(join(dir, MANIFEST_FILE), formatKeyringManifest(manifest), 0o600);
  return {
    manifest,
    from: manifest.keys.find((k) => k.name === before.active)!,
    to: manifest.keys.find((k) => k.name === manifest.active)!,
  };
}

/** `retire` on disk: manifest and bundle without the keys first, then their files. */
export function retireKeyringKeys(
  dir: string,
  options: { ca: CaKind; names?: readonly string[]; now: Date; force?: boolean },
): { manifest: KeyringManifest; retired: readonly KeyringEntry[] } {
  const before = requireManifest(dir, options.ca);
  const result = retireKeys(before, options);
  replaceFile(join(dir, BUNDLE_FILE[options.ca]), bundleText(dir, result.manifest), 0o644);
  replaceFile(join(dir, MANIFEST_FILE), formatKeyringManifest(result.manifest), 0o600);
  for (const entry of result.retired) {
    unlinkIfPresent(join(dir, `${entry.name}.key`));
    unlinkIfPresent(join(dir, `${entry.name}.crt`));
  }
  return result;
}

/** The manifest of an existing keyring of kind `ca` (for `status`). */
export function readKeyring(dir: string, ca: CaKind): KeyringManifest {
  return requireManifest(dir, ca);
}
