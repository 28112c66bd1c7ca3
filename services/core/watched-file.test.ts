import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchFile } from './watched-file.js';

describe('watchFile', () => {
  it('re-reads a changed file at most once a second, and fails closed while it is broken', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'watched-')), 'bundle');
    writeFileSync(path, 'one');
    let now = 0;
    const get = watchFile(
      path,
      (content) => {
        const text = content.toString('utf8');
        if (text === 'broken') throw new Error('not a bundle');
        return text.toUpperCase();
      },
      () => new Date(now),
    );
    expect(get()).toBe('ONE');
    writeFileSync(path, 'two!');
    expect(get()).toBe('ONE'); // within the second: not checked again
    now += 1000;
    expect(get()).toBe('TWO!');
    writeFileSync(path, 'broken');
    now += 1000;
    expect(() => get()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    rmSync(path);
    now += 1000;
    expect(() => get()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    writeFileSync(path, 'three');
    now += 1000;
    expect(get()).toBe('THREE');
  });
});
