import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argReadings, compileDenyElement, normalisePath, readingsMatch } from './deny-readings.js';

const matches = (pattern: string, arg: string) =>
  readingsMatch(compileDenyElement(pattern), argReadings(arg));

describe('normalisePath', () => {
  it.each([
    ['/proc/1//environ', '/proc/1/environ'],
    ['/proc/./1/environ', '/proc/1/environ'],
    ['/proc/1/../1/environ', '/proc/1/environ'],
    ['/proc/1/environ/', '/proc/1/environ'],
    ['/../proc', '/proc'],
    ['a/../../b', '../b'],
    ['./', ''],
  ])('%s is %s', (path, expected) => {
    const p = normalisePath(path);
    expect((p.absolute ? '/' : '') + p.segments.join('/')).toBe(expected);
  });

  it('remembers what follows the last ".." that removed a segment (a symlink may sit before it)', () => {
    expect(normalisePath('/proc/1/cwd/../x/y').afterDotDot).toEqual(['x', 'y']);
    expect(normalisePath('/proc/1/x').afterDotDot).toBeUndefined();
  });
});

/** Cases [pattern, arg] of the pattern most are about, the environment of any process, against each of `args`. */
const againstEnviron = (...args: string[]) => args.map((arg) => ['/proc/*/environ', arg]);

describe('deny element readings', () => {
  it.each([
    ...againstEnviron(
      '/proc/1//environ',
      '/proc/./1/environ',
      '/proc/1/../1/environ',
      '/proc/1/environ/',
      '/proc/1/task/1/environ',
      '/proc/self/root/proc/1/environ',
      '/proc/1/root/proc/self/root/proc/1/environ',
      '/proc/1/cwd/../environ',
      '/proc/1/cwd/proc/1/environ',
      'proc/1/environ',
      '1/environ',
      '../../proc/1/task/2/environ',
      '--file=/proc/1/environ',
      'if=/proc/1/environ',
      '-f/proc/1/environ',
    ),
    ['/etc/shadow', '/etc//shadow'],
    ['/etc//shadow', '/etc/shadow'],
  ])('%s catches %s', (pattern, arg) => {
    expect(matches(pattern, arg)).toBe(true);
  });

  it.each([
    ...againstEnviron('/proc/1/environ.bak', '/proc/1/status', '/home/proc/1/environ', '.', '..'),
    ['-rf', '-r'],
  ])('%s leaves %s alone', (pattern, arg) => {
    expect(matches(pattern, arg)).toBe(false);
  });

  const segment = fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const noise = fc.constantFrom('', '.', '//', '/./', '/x/..', '/proc/1/root', '/proc/self/root');

  it('property: a path with "//", ".", "x/.." and procfs root prefixes inserted still matches a deny on its clean form', () => {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 6 }),
        fc.array(noise, { minLength: 7, maxLength: 7 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        fc.boolean(),
        (segments, inserts, stars, trailingSlash) => {
          const clean = `/${segments.join('/')}`;
          const pattern = `/${segments.map((s, i) => (stars[i] ? '*' : s)).join('/')}`;
          // The noise goes between segments; a procfs root prefix only in front.
          const dirty =
            (inserts[0] ?? '') +
            segments
              .map((s, i) => {
                const n = inserts[i + 1] ?? '';
                return `/${n.startsWith('/proc') ? '' : n.replace(/^\/+|\/+$/g, '')}/${s}`;
              })
              .join('') +
            (trailingSlash ? '/' : '');
          expect(matches(pattern, clean)).toBe(true);
          expect(matches(pattern, dirty), dirty).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
