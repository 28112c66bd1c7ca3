/**
 * Helpers shared by the adversarial tests: the bypass corpus, shell quoting
 * for the OpenSSH command line, a gRPC exec runner for a session that skips
 * the mediator, and a /proc process scan.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AirlockError } from '../../../services/core/errors.js';
import type { Policy } from '../../../services/core/policy/index.js';
import { loadPolicy } from '../../../services/core/policy/index.js';
import type { ExecutorClient } from '../../../services/core/rpc/executor-client.js';
import { fromGrpcError } from '../../../services/core/rpc/grpc-errors.js';
import type { ExecStart } from '../../../services/core/rpc/messages.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'policy');

export interface CorpusEntry {
  name: string;
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
 * bypass-policy.json's deliberately generous `lenient` profile, with its
 * scope narrowed from `*` to the hermetic cluster and one test namespace, so
 * the only thing between the corpus and the pod is airlock's own guard.
 */
export function lenientPolicy(cluster: string, namespace: string): Policy {
  const raw = JSON.parse(readFileSync(join(fixtures, 'bypass-policy.json'), 'utf8')) as {
    profiles: { lenient: { scope: { clusters: string[]; namespaces: string[]; pods: string[] } } };
  };
  raw.profiles.lenient.scope = { clusters: [cluster], namespaces: [namespace], pods: ['*'] };
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

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exit?: { code: number; signal: string };
  error?: AirlockError;
}

/** Runs one Exec stream on an opened session to its end: start frame, optional stdin, then EOF. */
export function runExec(
  client: ExecutorClient,
  start: Partial<ExecStart> & { argv: string[] },
  stdin?: Buffer,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const call = client.exec();
    const out: Buffer[] = [];
    let stderr = '';
    let exit: ExecResult['exit'];
    call.on(
      'data',
      (frame: { stdout?: Buffer; stderr?: Buffer; exit?: { code: number; signal: string } }) => {
        if (frame.stdout) out.push(frame.stdout);
        if (frame.stderr) stderr += frame.stderr.toString();
        if (frame.exit) exit = frame.exit;
      },
    );
    call.on('error', (error) =>
      resolve({ stdout: Buffer.concat(out), stderr, exit, error: fromGrpcError(error) }),
    );
    call.on('end', () => resolve({ stdout: Buffer.concat(out), stderr, exit }));
    call.write({ start: { target: null, tty: false, size: null, shell: false, ...start } });
    if (stdin) call.write({ stdin });
    call.write({ stdin_eof: true });
  });
}

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

/** Codes an exec denial by policy may carry (authorize.ts). */
export const POLICY_DENIAL_CODES = ['COMMAND_DENIED', 'COMMAND_NOT_ALLOWED', 'SHELL_NOT_ALLOWED'];
