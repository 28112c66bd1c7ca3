import { describe, expect, it } from 'vitest';
import { globMatch, globSubsumes } from './glob.js';

describe('globMatch', () => {
  it.each<[pattern: string, value: string, matches: boolean]>([
    ['api-*', 'api-0', true],
    ['api-*', 'api-', true],
    ['api-*', 'web-0', false],
    ['worker-?', 'worker-1', true],
    ['worker-?', 'worker-10', false],
    ['/proc/*/status', '/proc/1/status', true],
    ['/proc/*/status', '/proc/1/root/x/status', false],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['*', '', true],
  ])('%s matches %s: %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
  });
});

describe('globSubsumes', () => {
  it.each([
    { general: '*', specific: 'api-*', covers: true },
    { general: 'api-*', specific: 'api-web-*', covers: true },
    { general: 'api-*', specific: 'api-0', covers: true },
    { general: 'api-*', specific: 'ap*', covers: false },
    { general: 'a?', specific: 'a*', covers: false },
    { general: 'a?', specific: 'a?', covers: true },
    { general: 'a*b', specific: 'a*x*b', covers: true },
    { general: 'exact', specific: 'exact', covers: true },
    { general: 'exact', specific: 'exac?', covers: false },
  ])('$general covers $specific: $covers', ({ general, specific, covers }) => {
    expect(globSubsumes(general, specific)).toBe(covers);
  });
});
