import { describe, expect, it } from 'vitest';
import { globMatch, globSubsumes } from './glob.js';

describe('globMatch', () => {
  it.each([
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
    ['*', 'api-*', true],
    ['api-*', 'api-web-*', true],
    ['api-*', 'api-0', true],
    ['api-*', 'ap*', false],
    ['a?', 'a*', false],
    ['a?', 'a?', true],
    ['a*b', 'a*x*b', true],
    ['exact', 'exact', true],
    ['exact', 'exac?', false],
  ])('%s covers %s: %s', (general, specific, expected) => {
    expect(globSubsumes(general, specific)).toBe(expected);
  });
});
