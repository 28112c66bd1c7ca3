import { watchFile } from '../files/watched-file.js';
import { createKrlRevocationList, parseDenyList, parseKrl, type RevocationList } from '../ssh-cert/index.js';

export interface RevocationFiles {
  /** OpenSSH KRL files made by `ssh-keygen -k`. */
  krlFiles: readonly string[];
  /** JSON deny lists ({serials, keyIds, fingerprints}), e.g. the broker's. */
  denyListFiles: readonly string[];
}

/**
 * Revocation lists read from files and re-read when a file changes (checked
 * at most once a second; see watchFile), so a revocation reaches running
 * tiers without a restart. A file that becomes unreadable or invalid fails
 * closed: the getter throws CONFIG_INVALID until it is fixed.
 */
export function watchRevocationFiles(
  files: RevocationFiles,
  clock: () => Date = () => new Date(),
): () => RevocationList[] {
  const watched = [
    ...files.krlFiles.map((path) =>
      watchFile(path, (bytes) => createKrlRevocationList(parseKrl(bytes)), clock),
    ),
    ...files.denyListFiles.map((path) =>
      watchFile(path, (bytes) => parseDenyList(bytes.toString('utf8')), clock),
    ),
  ];
  return () => watched.map((get) => get());
}
