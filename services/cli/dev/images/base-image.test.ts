import { describe, expect, it } from 'vitest';
import { mirrorIn } from './base-image.js';

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
