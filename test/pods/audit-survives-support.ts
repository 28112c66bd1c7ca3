import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PodsStack } from '../../services/cli/dev/pods/pods-stack.js';
import type { AuditRecord } from '../../services/core/audit/index.js';
import { until } from './ephemeral-support.js';
import { type Ran, reissueOncall, run } from './pods-support.js';

export const NS = 'airlock-system';
export const airlockBin = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
export type Tier = 'broker' | 'mediator' | 'executor';

/** The `airlock` CLI (dist/), its exit code and output. */
export const airlock = (...args: string[]): Promise<Ran> => run(process.execPath, [airlockBin, ...args]);

/** The real OpenSSH client through the stack's ssh config, non-interactive. */
export function sshOf(stack: PodsStack): (...args: string[]) => Promise<Ran> {
  return (...args) =>
    run('ssh', ['-F', stack.sshConfigPath, '-o', 'BatchMode=yes', ...args], process.env, 30_000);
}

export function kubectlOf(stack: PodsStack): (...args: string[]) => Promise<Ran> {
  return (...args) =>
    run(stack.cluster.binaries.kubectl, ['--kubeconfig', stack.cluster.kubeconfigPath, ...args]);
}

/** The names of a tier's pods that are Ready and not terminating. */
export async function readyPods(stack: PodsStack, tier: Tier): Promise<string[]> {
  // One line per pod: name, deletion time (empty unless terminating), Ready status.
  const template =
    '{range .items[*]}{.metadata.name}|{.metadata.deletionTimestamp}|{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}';
  const selector = `app.kubernetes.io/name=airlock-${tier}`;
  const listed = await kubectlOf(stack)(
    'get',
    'pods',
    `--namespace=${NS}`,
    `--selector=${selector}`,
    '-o',
    `jsonpath=${template}`,
  );
  return lines(listed.stdout)
    .map((line) => line.split('|'))
    .filter(([, deleting, ready]) => deleting === '' && ready === 'True')
    .map(([name]) => name!);
}

/** Waits until the pods named are gone from the API server; the ms it took, or -1. */
export function podsGone(stack: PodsStack, names: string[], timeoutMs = 120_000): Promise<number> {
  return until(async () => {
    const left = await kubectlOf(stack)(
      'get',
      'pods',
      '-n',
      NS,
      ...names,
      '--ignore-not-found',
      '-o',
      'name',
    );
    return left.code === 0 && left.stdout.trim() === '';
  }, timeoutMs);
}

/** Waits until a tier has a Ready pod not among `old`; its name. */
export async function replacement(stack: PodsStack, tier: Tier, old: string[]): Promise<string> {
  let found = '';
  const ms = await until(async () => {
    found = (await readyPods(stack, tier)).find((name) => !old.includes(name)) ?? '';
    return found !== '';
  }, 240_000);
  if (ms < 0) throw new Error(`no new ${tier} pod became Ready`);
  return found;
}

/**
 * Logs in over ssh (`airlock pods`, a list: not counted) until it works. A new
 * executor pod refuses the certificate issued before it started
 * (CERT_PREDATES_REPLAY_RECORD): the user gets a new one, as the message says.
 * Returns the attempts (exit/ms).
 */
export async function serveAgain(stack: PodsStack): Promise<string[]> {
  const attempts: string[] = [];
  const ms = await until(
    async () => {
      const probe = await sshOf(stack)('airlock', 'pods');
      attempts.push(`${probe.code}/${probe.ms}ms`);
      if (probe.stderr.includes('CERT_PREDATES_REPLAY_RECORD')) await reissueOncall(stack);
      return probe.code === 0;
    },
    240_000,
    1_000,
  );
  if (ms < 0) throw new Error(`not served again: ${attempts.join(' ')}`);
  return attempts;
}

/** A tier's trail file as its pod holds it now (the tier's own container). */
export async function podTrail(stack: PodsStack, tier: Tier, pod: string): Promise<string> {
  const read = await kubectlOf(stack)(
    'exec',
    '-n',
    NS,
    pod,
    '-c',
    tier,
    '--',
    'cat',
    `/var/lib/airlock/audit/${tier}.jsonl`,
  );
  if (read.code !== 0) throw new Error(`cannot read ${pod}'s trail: ${read.stderr}`);
  return read.stdout;
}

export const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
export const records = (text: string): AuditRecord[] =>
  lines(text).map((line) => JSON.parse(line) as AuditRecord);

/** A durable record: a decision, a witnessed head or a checkpoint (docs/audit.md). */
export function isDurable(line: string): boolean {
  const r = JSON.parse(line) as AuditRecord;
  return r.type === 'checkpoint' || r.decision !== undefined || r.event === 'checkpoint.witnessed';
}

/** One trail rebuilt from the store: the pod it came from, its tier, its files in chain order. */
export interface CollectedTrail {
  pod: string;
  tier: Tier;
  files: string[];
  text: string;
}

/**
 * `airlock audit collect` over every file the store's exporter wrote (read
 * from its PersistentVolume on the node), into `out`; the trails by pod.
 */
export async function collectStore(storeDir: string, out: string): Promise<Map<string, CollectedTrail>> {
  const exported = readdirSync(storeDir)
    .filter((name) => name.startsWith('audit.otlp'))
    .map((name) => join(storeDir, name));
  const collected = await airlock('audit', 'collect', ...exported, '--out', out);
  if (collected.code !== 0)
    throw new Error(`collect: ${collected.code} ${collected.stdout}${collected.stderr}`);
  const trails = new Map<string, CollectedTrail>();
  for (const pod of readdirSync(out)) {
    const names = readdirSync(join(out, pod)).sort((a, b) =>
      a.endsWith('.jsonl') ? 1 : b.endsWith('.jsonl') ? -1 : a.localeCompare(b),
    );
    const files = names.map((name) => join(out, pod, name));
    const tier = names[0]!.split('.')[0] as Tier;
    trails.set(pod, { pod, tier, files, text: files.map((f) => readFileSync(f, 'utf8')).join('') });
  }
  return trails;
}

/** The records of one event (and optionally one action) in the trails of a tier. */
export function count(trails: Iterable<CollectedTrail>, tier: Tier, event: string, action?: string): number {
  let n = 0;
  for (const trail of trails) {
    if (trail.tier !== tier) continue;
    for (const r of records(trail.text))
      if (r.type === 'event' && r.event === event && (action === undefined || r.details?.action === action))
        n++;
  }
  return n;
}
