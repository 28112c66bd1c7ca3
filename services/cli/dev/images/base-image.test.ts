import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseImageKey, baseImageTag, mirrorIn } from './base-image.js';

describe('the Debian mirror of the base image', () => {
  it('reads deb822 sources, ignoring comments', () => {
    const text = [
      'Types: deb',
      '# http://snapshot.debian.org/archive/debian/20250520T000000Z',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: bookworm-security',
    ].join('\n');
    expect(mirrorIn(text, 'bookworm')).toBe('http://mirror.example/debian');
  });

  it('reads one-line sources, with options', () => {
    const text =
      '# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://one.example/debian bookworm main\n';
    expect(mirrorIn(text, 'bookworm')).toBe('http://one.example/debian');
  });

  it('finds nothing for another suite', () => {
    expect(mirrorIn('deb http://one.example/debian trixie main\n', 'bookworm')).toBeUndefined();
  });
});

describe('the base images: a runtime flavour and a build flavour (toolchain, npm, Node headers)', () => {
  const caBundle = join(mkdtempSync(join(tmpdir(), 'airlock-base-key-')), 'ca.crt');
  writeFileSync(caBundle, 'a CA bundle\n');
  const mirror = 'http://mirror.example/debian';

  it('keys each flavour by its own inputs: same inputs, same key; the flavours never share one', () => {
    const runtime = baseImageKey(mirror, 'runtime', caBundle);
    const build = baseImageKey(mirror, 'build', caBundle);
    expect(runtime).toMatch(/^[0-9a-f]{16}$/);
    expect(build).toMatch(/^[0-9a-f]{16}$/);
    expect(build).not.toBe(runtime);
    expect(baseImageKey(mirror, 'runtime', caBundle)).toBe(runtime);
    expect(baseImageKey(mirror, 'build', caBundle)).toBe(build);
  });

  it('changes both keys when the mirror or the CA bundle changes', () => {
    const before = {
      runtime: baseImageKey(mirror, 'runtime', caBundle),
      build: baseImageKey(mirror, 'build', caBundle),
    };
    const otherMirror = 'http://other.example/debian';
    expect(baseImageKey(otherMirror, 'runtime', caBundle)).not.toBe(before.runtime);
    expect(baseImageKey(otherMirror, 'build', caBundle)).not.toBe(before.build);
    writeFileSync(caBundle, 'another CA bundle\n');
    expect(baseImageKey(mirror, 'runtime', caBundle)).not.toBe(before.runtime);
    expect(baseImageKey(mirror, 'build', caBundle)).not.toBe(before.build);
  });

  it('tags them apart: airlock/base (runtime) and airlock/base-build', () => {
    expect(baseImageTag('0123456789abcdef', 'runtime')).toBe('airlock/base:0123456789abcdef');
    expect(baseImageTag('0123456789abcdef', 'build')).toBe('airlock/base-build:0123456789abcdef');
  });
});
