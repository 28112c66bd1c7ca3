/**
 * cred-helper's credential cache: one 0600 JSON file per cluster,
 * ~/.cache/airlock/cred-<cluster>.json, used until shortly before the
 * certificate expires (docs/kubectl.md).
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';

/** A cached credential is used until this many seconds before its certificate expires. */
export const REFRESH_MARGIN_SECONDS = 60;

/** One cached kubectl credential. The private key is a secret: the file is 0600. */
export interface CachedCredential {
  readonly cluster: string;
  readonly requestId: string;
  /** PEM. */
  readonly certificate: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** RFC 3339: the certificate's notAfter. */
  readonly notAfter: string;
}

/** True while the credential may be handed out: until {@link REFRESH_MARGIN_SECONDS} before notAfter. */
export function isCredentialFresh(
  entry: CachedCredential,
  now: Date,
  marginSeconds = REFRESH_MARGIN_SECONDS,
): boolean {
  const notAfter = Date.parse(entry.notAfter);
  return Number.isFinite(notAfter) && now.getTime() < notAfter - marginSeconds * 1000;
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkCluster(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster))
    throw new AirlockError('USAGE', `--cluster ${JSON.stringify(cluster)} is not a cluster name`);
  return cluster;
}

/** Where cred-helper caches the credential for `cluster`. */
export function credentialCachePath(io: { readonly cacheDir: string }, cluster: string): string {
  return join(io.cacheDir, `cred-${checkCluster(cluster)}.json`);
}

export async function readCachedCredential(path: string): Promise<CachedCredential | undefined> {
  try {
    const entry = JSON.parse(await readFile(path, 'utf8')) as Partial<CachedCredential>;
    if (
      typeof entry.cluster === 'string' &&
      typeof entry.requestId === 'string' &&
      typeof entry.certificate === 'string' &&
      typeof entry.privateKey === 'string' &&
      typeof entry.notAfter === 'string'
    ) {
      return entry as CachedCredential;
    }
    return undefined; // unreadable entries are replaced, never trusted
  } catch {
    return undefined;
  }
}

export async function writeCachedCredential(
  path: string,
  dir: string,
  entry: CachedCredential,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}
