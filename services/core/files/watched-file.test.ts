import { createHash } from 'node:crypto';
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

  it('tells onChange of each new content after the first read: not a rewrite of the same bytes, not a broken file', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'watched-')), 'bundle');
    writeFileSync(path, 'one');
    let now = 0;
    const changes: { path: string; sha256: string }[] = [];
    const get = watchFile(
      path,
      (content) => {
        if (content.toString('utf8') === 'broken') throw new Error('not a bundle');
        return content.toString('utf8');
      },
      () => new Date(now),
      (change) => changes.push(change),
    );
    expect(get()).toBe('one');
    expect(changes).toEqual([]);
    writeFileSync(path, 'one');
    now += 1000;
    get();
    writeFileSync(path, 'broken');
    now += 1000;
    expect(() => get()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(changes).toEqual([]);
    writeFileSync(path, 'two');
    now += 1000;
    expect(get()).toBe('two');
    expect(changes).toEqual([{ path, sha256: createHash('sha256').update('two').digest('hex') }]);
  });
});
