import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { writeTar } from './tar-writer.js';

describe('writeTar', () => {
  it('writes an archive GNU tar lists and extracts byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-tar-'));
    try {
      const binary = Buffer.from([0, 1, 2, 255, 10, 13]);
      const tar = writeTar(
        [
          { name: 'README.txt', content: 'hello\n' },
          { name: 'trails/executor.jsonl', content: 'x'.repeat(1300) },
          { name: 'keys/bin', content: binary },
          { name: 'empty', content: '' },
        ],
        1_764_000_000,
      );
      writeFileSync(join(dir, 'b.tar'), tar);
      expect(
        execFileSync('tar', ['-tf', join(dir, 'b.tar')], { encoding: 'utf8' })
          .trim()
          .split('\n'),
      ).toEqual(['README.txt', 'trails/executor.jsonl', 'keys/bin', 'empty']);
      execFileSync('tar', ['-xf', join(dir, 'b.tar'), '-C', dir]);
      expect(readFileSync(join(dir, 'trails/executor.jsonl'), 'utf8')).toBe('x'.repeat(1300));
      expect(readFileSync(join(dir, 'keys/bin'))).toEqual(binary);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses absolute, parent, non-ASCII, long or duplicate names', () => {
    for (const name of ['/etc/passwd', '../x', 'a/../../x', 'é', 'a'.repeat(101), ''])
      expect(() => writeTar([{ name, content: '' }], 0)).toThrow(AirlockError);
    expect(() =>
      writeTar(
        [
          { name: 'a', content: '' },
          { name: 'a', content: '' },
        ],
        0,
      ),
    ).toThrow(AirlockError);
  });
});
