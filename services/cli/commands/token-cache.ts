/**
 * The cached login: the ID token (or the service account token file), the
 * broker URL and its CA at `<config dir>/token.json`, mode 0600.
 */

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import type { BrokerClientIo } from './broker-client-io.js';

/** The cached login. */
export interface TokenCache {
  readonly broker: string;
  /** Absolute path of the PEM bundle trusted for the broker (and the issuer unless issuerCa). */
  readonly ca?: string;
  readonly issuer: string;
  readonly idToken: string;
  /** RFC 3339. */
  readonly expiresAt: string;
  readonly user?: string;
  /**
   * `login --service-account-token`: the absolute path of the token file,
   * read again by every command (a projected token rotates); `idToken` is
   * then empty.
   */
  readonly tokenFile?: string;
}

function tokenPath(io: BrokerClientIo): string {
  return join(io.configDir, 'token.json');
}

export async function readCache(io: BrokerClientIo): Promise<TokenCache | undefined> {
  try {
    return JSON.parse(await readFile(tokenPath(io), 'utf8')) as TokenCache;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError('USAGE', `cannot read ${tokenPath(io)}: ${(error as Error).message}`);
  }
}

export async function writeCache(io: BrokerClientIo, cache: TokenCache): Promise<void> {
  await mkdir(io.configDir, { recursive: true, mode: 0o700 });
  const path = tokenPath(io);
  await writeFile(path, `${JSON.stringify(cache, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only when it creates the file
}

export async function readPem(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read CA file ${path}: ${(error as Error).message}`);
  }
}
