import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDirectory } from './make-directory.js';

const root = mkdtempSync(join(tmpdir(), 'airlock-mkdir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('makeDirectory', () => {
  it('makes missing parents with the mode and accepts an existing directory', async () => {
    const path = join(root, 'a', 'b', 'c');
    await makeDirectory(path, 0o700);
    await makeDirectory(path, 0o700);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
  });

  it('fails (does not loop) where the kernel refuses: ENOENT under /proc, ENOTDIR under a file', async () => {
    await expect(makeDirectory('/proc/airlock/audit', 0o700)).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(join(root, 'file'), '');
    await expect(makeDirectory(join(root, 'file', 'x'), 0o700)).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
