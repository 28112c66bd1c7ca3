/**
 * Which key `airlock cert` writes a certificate next to. OpenSSH finds a
 * certificate as `<private key>-cert.pub` and offers it with that key, so a
 * certificate written next to a key it does not certify is useless at best
 * and, at worst, replaces the working certificate of another key. Hence:
 * the key must be the one the certificate certifies (compared by public key
 * blob), and by default it is the key the request was made with, which
 * `airlock request` remembers per request id in the config directory.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { parsePublicKeyLine, type SshPublicKey, sha256Fingerprint } from '../../core/ssh-cert/index.js';

/** `CONFIG/request-keys.json`: request id → absolute path of the public key it was made with. */
const FILE = 'request-keys.json';
/** Requests remembered; older ones are forgotten first (they have long expired). */
const KEEP = 200;

async function readRemembered(configDir: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(join(configDir, FILE), 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {}; // none yet, or unreadable: nothing remembered
  }
}

/** Remembers that request `id` was made with the public key at `publicKeyPath`. */
export async function rememberRequestKey(
  configDir: string,
  id: string,
  publicKeyPath: string,
): Promise<void> {
  const entries = Object.entries(await readRemembered(configDir)).filter(([key]) => key !== id);
  entries.push([id, resolve(publicKeyPath)]);
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const path = join(configDir, FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(Object.fromEntries(entries.slice(-KEEP)), null, 2)}\n`, {
    mode: 0o600,
  });
  await rename(`${path}.tmp`, path);
}

/** The key request `id` was made with, if this config directory made it. */
export async function rememberedRequestKey(configDir: string, id: string): Promise<string | undefined> {
  const path = (await readRemembered(configDir))[id];
  return typeof path === 'string' ? path : undefined;
}

/** The fingerprint of the public key in `path`, and whether it is `certified`; undefined when unreadable. */
async function keyAt(
  path: string,
  certified: SshPublicKey,
): Promise<{ matches: boolean; fingerprint: string } | undefined> {
  let key: SshPublicKey;
  try {
    key = parsePublicKeyLine((await readFile(path, 'utf8')).trim()).key;
  } catch {
    return undefined;
  }
  return {
    matches: Buffer.from(key.blob).equals(Buffer.from(certified.blob)),
    fingerprint: sha256Fingerprint(key.blob),
  };
}

/** Where the key that `airlock cert` uses comes from. */
export interface CertKeyChoice {
  /** `--key`, as given (already home-expanded). */
  readonly explicit?: string;
  /** What `airlock request` remembered for this request. */
  readonly remembered?: string;
  /** `~/.ssh/id_ed25519.pub`, home-expanded. */
  readonly fallback: string;
}

/**
 * The public key file that certifies `certified`: `--key` if given, else the
 * remembered one, else the default key — each only if it holds the
 * certified key. Anything else is refused with CERT_KEY_MISMATCH, naming
 * the key the certificate is for and how to point at it.
 */
export async function certifiedKeyPath(
  requestId: string,
  certified: SshPublicKey,
  choice: CertKeyChoice,
): Promise<string> {
  const wanted = sha256Fingerprint(certified.blob);
  const candidate = choice.explicit ?? choice.remembered ?? choice.fallback;
  const found = await keyAt(candidate, certified);
  if (found?.matches) return candidate;
  const how =
    choice.explicit !== undefined
      ? `--key ${candidate}`
      : choice.remembered !== undefined
        ? `${candidate}, the key the request was made with,`
        : `${candidate} (the default; this config directory did not make the request)`;
  const what =
    found === undefined ? 'cannot be read as a public key' : `holds another key (${found.fingerprint})`;
  throw new AirlockError(
    'CERT_KEY_MISMATCH',
    `the certificate of ${requestId} certifies the key ${wanted}, but ${how} ${what}; ` +
      'nothing written. Pass --key with the public key the request was made with',
  );
}
