import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

/**
 * `mkdir -p`: makes `path` and any missing parents with `mode`; an existing
 * directory is fine. Not `mkdir(path, { recursive: true })`, which loops
 * forever where the kernel answers ENOENT under an existing parent (/proc).
 */
export async function makeDirectory(path: string, mode: number): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return;
    const parent = dirname(path);
    if (codeOf(error) !== 'ENOENT' || parent === path) throw error;
    await makeDirectory(parent, mode);
    try {
      await mkdir(path, { mode });
    } catch (again) {
      if (codeOf(again) !== 'EEXIST') throw again;
    }
  }
}
