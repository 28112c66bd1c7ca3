/**
 * Helpers shared by the adversarial tests: the bypass corpus, shell quoting
 * for the OpenSSH command line, a gRPC exec runner for a session that skips
 * the mediator, and a /proc process scan.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyDenialCode } from '../../../services/core/errors.js';
import type { Policy } from '../../../services/core/policy/index.js';
import { loadPolicy } from '../../../services/core/policy/index.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'policy');

export interface CorpusEntry {
  name: string;
  /** The profile the entry is tried under; default the corpus scope's profile. */
  profile?: string;
  argv: (string | { repeat: string; times: number })[];
  why: string;
  extraArgs?: { arg: string; times: number };
}

export interface BypassCorpus {
  scope: { profile: string; cluster: string; namespace: string; podPatterns: string[] };
  pod: string;
  entries: CorpusEntry[];
}

export function loadBypassCorpus(): BypassCorpus {
  return JSON.parse(readFileSync(join(fixtures, 'bypass-corpus.json'), 'utf8')) as BypassCorpus;
}

/** The argv an entry stands for (repeats expanded, extra arguments appended), as authorize.test.ts builds it. */
export function corpusArgv(entry: CorpusEntry): string[] {
  const argv = entry.argv.map((a) => (typeof a === 'string' ? a : a.repeat.repeat(a.times)));
  if (entry.extraArgs) for (let i = 0; i < entry.extraArgs.times; i++) argv.push(entry.extraArgs.arg);
  return argv;
}

/**
 * bypass-policy.json's deliberately generous profiles (`lenient`, and
 * `readers` with its deny rules), with their scope narrowed from `*` to the
 * hermetic cluster and one test namespace, so the only thing between the
 * corpus and the pod is airlock's own guard.
 */
export function lenientPolicy(cluster: string, namespace: string): Policy {
  const raw = JSON.parse(readFileSync(join(fixtures, 'bypass-policy.json'), 'utf8')) as {
    profiles: Record<string, { scope: { clusters: string[]; namespaces: string[]; pods: string[] } }>;
  };
  for (const profile of Object.values(raw.profiles)) {
    profile.scope = { clusters: [cluster], namespaces: [namespace], pods: ['*'] };
  }
  return loadPolicy(raw);
}

/**
 * One POSIX single-quoted word per argv element (`'` becomes `'\''`), so the
 * mediator's splitter (split-command-line.ts) gives back exactly `argv` and
 * shell operators inside an element are literal characters.
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
}

export { type ExecResult, runExec } from '../../support/executor-harness.js';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** argv joined with single spaces. */
  cmdline: string;
}

/** Every live (non-zombie) process on the machine, read from /proc. */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppidText] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited; only its reaping is left.
      if (state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      found.push({ pid: Number(entry), ppid: Number(ppidText), cmdline });
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** The policy denials (core's POLICY_DENIAL_CODES) a refused command line may carry (authorize.ts). */
export const COMMAND_DENIAL_CODES: readonly PolicyDenialCode[] = [
  'COMMAND_DENIED',
  'COMMAND_NOT_ALLOWED',
  'SHELL_NOT_ALLOWED',
];
