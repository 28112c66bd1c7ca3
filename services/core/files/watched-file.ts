import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { AirlockError } from '../errors.js';

/** A watched file took new content: its path and the SHA-256 (hex) of the bytes now in use. */
export type FileChangeListener = (change: { path: string; sha256: string }) => void;

/**
 * A configuration file's parsed content, re-read when the file changes
 * (checked at most once a second), so trust bundles rotate without a
 * restart: add the new CA, switch signing, retire the old one. A file that
 * becomes unreadable or invalid fails closed: the getter throws
 * CONFIG_INVALID until it is fixed.
 *
 * `onChange` hears of every new content taken after the first read (the
 * tiers audit CA changes with it): the path and the SHA-256 of the bytes.
 * The file is checked when the getter is called, so a change is taken, and
 * heard of, on the first use after it.
 */
export function watchFile<T>(
  path: string,
  parse: (content: Buffer) => T,
  clock: () => Date = () => new Date(),
  onChange?: FileChangeListener,
): () => T {
  let value: T | undefined;
  let stamp = '';
  let digest = '';
  let checkedAt = Number.NEGATIVE_INFINITY;
  let failure: AirlockError | undefined;
  const load = () => {
    try {
      const stat = statSync(path);
      const next = `${stat.mtimeMs}:${stat.size}`;
      if (next === stamp && !failure) return;
      const content = readFileSync(path);
      const parsed = parse(content);
      const sha256 = createHash('sha256').update(content).digest('hex');
      const changed = stamp !== '' && sha256 !== digest;
      value = parsed;
      stamp = next;
      digest = sha256;
      failure = undefined;
      if (changed) onChange?.({ path, sha256 });
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
