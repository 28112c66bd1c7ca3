import { readFileSync, statSync } from 'node:fs';
import { AirlockError } from './errors.js';
import { createKrlRevocationList, parseDenyList, parseKrl, type RevocationList } from './ssh-cert/index.js';

export interface RevocationFiles {
  /** OpenSSH KRL files made by `ssh-keygen -k`. */
  krlFiles: readonly string[];
  /** JSON deny lists ({serials, keyIds, fingerprints}), e.g. the broker's. */
  denyListFiles: readonly string[];
}

/**
 * Revocation lists read from files and re-read when a file changes (checked
 * at most once a second), so a revocation reaches running tiers without a
 * restart. A file that becomes unreadable or invalid fails closed: every
 * verification then throws CONFIG_INVALID until it is fixed.
 */
export function watchRevocationFiles(
  files: RevocationFiles,
  clock: () => Date = () => new Date(),
): () => RevocationList[] {
  let lists: RevocationList[] = [];
  let stamp = '';
  let checkedAt = 0;
  let failure: AirlockError | undefined;
  const paths = [...files.krlFiles, ...files.denyListFiles];

  const load = () => {
    try {
      const next = paths.map((path) => `${path}:${statSync(path).mtimeMs}`).join('|');
      if (next === stamp && !failure) return;
      lists = [
        ...files.krlFiles.map((path) => createKrlRevocationList(parseKrl(readFileSync(path)))),
        ...files.denyListFiles.map((path) => parseDenyList(readFileSync(path, 'utf8'))),
      ];
      stamp = next;
      failure = undefined;
    } catch (error) {
      failure = new AirlockError('CONFIG_INVALID', 'a revocation list cannot be read', {
        detail: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
  };
  load();
  return () => {
    const now = clock().getTime();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      load();
    }
    if (failure) throw failure;
    return lists;
  };
}
