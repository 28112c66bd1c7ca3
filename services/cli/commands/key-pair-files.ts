/** Writing the new key pairs of `airlock ca init` and `airlock audit keygen`. */
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors.js';

/** Checks `--name`: a plain file name (no directory, not hidden), else USAGE. */
export function checkPlainName(name: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.'))
    throw new AirlockError('USAGE', `--name ${name} is not a plain file name`);
}

/** Which refusal an existing file gets: its code, and what kind of key it would have overwritten. */
export interface KeyExists {
  code: 'CA_KEY_EXISTS' | 'AUDIT_KEY_EXISTS';
  /** e.g. `a CA key`. */
  what: string;
}

async function writeNew(path: string, content: string, mode: number, exists: KeyExists): Promise<void> {
  try {
    // 'wx' fails if the file exists, so an existing key is never replaced, even in a race.
    await writeFile(path, content, { flag: 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AirlockError(exists.code, `${path} already exists; refusing to overwrite ${exists.what}`, {
        detail: 'Remove it deliberately, or choose another --out or --name.',
      });
    }
    throw new AirlockError('USAGE', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Writes a new key pair into `out` (created 0700 if missing): the private
 * key (0600), then the public key (0644). Never replaces a file; when the
 * public key cannot be written the private one is removed again.
 */
export async function writeNewKeyPair(
  out: string,
  paths: { privateKey: string; publicKey: string },
  content: { privateKey: string; publicKey: string },
  exists: KeyExists,
): Promise<void> {
  await mkdir(out, { recursive: true, mode: 0o700 });
  await writeNew(paths.privateKey, content.privateKey, 0o600, exists);
  try {
    await writeNew(paths.publicKey, content.publicKey, 0o644, exists);
  } catch (error) {
    await unlink(paths.privateKey); // do not leave half a key pair behind
    throw error;
  }
}
