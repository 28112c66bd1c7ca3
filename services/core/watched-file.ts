import { readFileSync, statSync } from 'node:fs';
import { AirlockError } from './errors.js';

/**
 * A configuration file's parsed content, re-read when the file changes
 * (checked at most once a second), so trust bundles rotate without a
 * restart: add the new CA, switch signing, retire the old one. A file that
 * becomes unreadable or invalid fails closed: the getter throws
 * CONFIG_INVALID until it is fixed.
 */
export function watchFile<T>(
  path: string,
  parse: (content: Buffer) => T,
  clock: () => Date = () => new Date(),
): () => T {
  let value: T | undefined;
  let stamp = '';
  let checkedAt = Number.NEGATIVE_INFINITY;
  let failure: AirlockError | undefined;
  const load = () => {
    try {
      const stat = statSync(path);
      const next = `${stat.mtimeMs}:${stat.size}`;
      if (next === stamp && !failure) return;
      value = parse(readFileSync(path));
      stamp = next;
      failure = undefined;
    } catch (error) {
      failure = new AirlockError('CONFIG_INVALID', `${path} cannot be read`, {
        detail: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
  };
  return () => {
    const now = clock().getTime();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      load();
    }
    if (failure) throw failure;
    return value as T;
  };
}
