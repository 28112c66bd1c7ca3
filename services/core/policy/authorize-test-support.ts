import { readFileSync } from 'node:fs';
import { testPolicy } from './testing.js';
import type { Intent, Scope } from './types.js';
import { loadPolicy } from './validate.js';

/*
 * What the authorize*.test.ts files share: the test policy, scope and exec intent, and the bypass corpus (test/fixtures/policy/bypass-corpus.json) with its lenient policy.
 */

export const policy = testPolicy();
export const scope: Scope = {
  profile: 'debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['api-*'],
};
export const exec = (argv: readonly string[]): Intent => ({
  action: 'exec',
  namespace: 'payments',
  pod: 'api-0',
  argv,
});

export interface CorpusEntry {
  name: string;
  /** The profile the entry is tried under; default `corpus.scope.profile`. */
  profile?: string;
  argv: (string | { repeat: string; times: number })[];
  why: string;
  extraArgs?: { arg: string; times: number };
}
export const corpus = JSON.parse(readFileSync('test/fixtures/policy/bypass-corpus.json', 'utf8')) as {
  scope: Scope;
  pod: string;
  entries: CorpusEntry[];
};
export const lenient = loadPolicy(readFileSync('test/fixtures/policy/bypass-policy.json', 'utf8'));

export function corpusArgv(entry: CorpusEntry): string[] {
  const argv = entry.argv.map((a) => (typeof a === 'string' ? a : a.repeat.repeat(a.times)));
  if (entry.extraArgs) for (let i = 0; i < entry.extraArgs.times; i++) argv.push(entry.extraArgs.arg);
  return argv;
}
