/**
 * Extra mediator and executor processes for the benchmarks, with the dev
 * stack's config but load-sized limits and their own audit files.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../services/core/repo/repo-root.js';
import type { BenchStack } from './bench-stack.js';

function waitForReadyLine(child: ChildProcess, what: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('ready ')) return;
      resolve(
        Object.fromEntries(
          line
            .slice(6)
            .split(' ')
            .map((p) => p.split('=') as [string, string]),
        ),
      );
    });
    child.once('exit', (code) => reject(new Error(`${what} exited ${code} before ready`)));
  });
}

export const BENCH_LIMITS = { maxSessionsPerPrincipal: 1000, maxUnauthenticatedPerSource: 200 };

let tierCount = 0;

/**
 * The node flags the build at `root` runs `tier` with
 * (services/core/service/node-flags.ts); for an older baseline of the A/B
 * benchmark, what it had: the executor's flags only, or none without the file.
 */
async function tierNodeFlags(root: string, tier: 'mediator' | 'executor'): Promise<readonly string[]> {
  const file = join(root, 'dist', 'services', 'core', 'service', 'node-flags.js');
  if (!existsSync(file)) return [];
  const flags = (await import(pathToFileURL(file).href)) as {
    STREAM_TIER_NODE_FLAGS?: readonly string[];
    EXECUTOR_NODE_FLAGS?: readonly string[];
  };
  if (flags.STREAM_TIER_NODE_FLAGS) return flags.STREAM_TIER_NODE_FLAGS;
  return tier === 'executor' ? (flags.EXECUTOR_NODE_FLAGS ?? []) : [];
}

/**
 * Starts one tier process from the dev stack's config file for it, with
 * `overrides` on top, its own audit file, no ops listener, the extra
 * environment `env` and node flags `nodeArgs` (e.g. `--cpu-prof`).
 * Resolves with its port once it prints its ready line.
 */
async function startTier(
  stateDir: string,
  tier: 'mediator' | 'executor',
  overrides: Record<string, unknown>,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
  root: string = repoRoot(),
): Promise<{ child: ChildProcess; port: number; auditPath: string }> {
  const base = JSON.parse(readFileSync(join(stateDir, 'config', `${tier}.json`), 'utf8')) as Record<
    string,
    unknown
  > & { audit: Record<string, unknown> };
  const name = `bench-${tier}-${++tierCount}`;
  const configPath = join(stateDir, 'config', `${name}.json`);
  const auditPath = join(stateDir, 'audit', `${name}.jsonl`);
  const { ops: _ops, ...withoutOps } = base;
  writeFileSync(
    configPath,
    JSON.stringify({
      ...withoutOps,
      listen: '127.0.0.1:0',
      audit: { ...base.audit, path: auditPath },
      logLevel: 'warn',
      ...overrides,
    }),
  );
  // The mediator gets no Kubernetes credential, as in the dev stack; the executor has its kubeconfig file.
  const inherited = Object.entries(process.env).filter(
    ([key]) => tier === 'executor' || !key.startsWith('KUBE'),
  );
  const child = spawn(
    process.execPath,
    [
      ...(await tierNodeFlags(root, tier)),
      ...nodeArgs,
      join(root, 'dist', 'services', tier, 'main.js'),
      '--config',
      configPath,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...Object.fromEntries(inherited), ...env } },
  );
  const ready = await waitForReadyLine(child, name);
  return { child, port: Number(ready.port), auditPath };
}

/** Starts a mediator with the dev stack's config but load-sized limits and its own audit file. */
export function startBenchMediator(
  stateDir: string,
  limits: { maxSessionsPerPrincipal: number; maxUnauthenticatedPerSource: number },
): Promise<{ child: ChildProcess; port: number; auditPath: string }> {
  return startTier(stateDir, 'mediator', { limits });
}

/** A mediator and its own executor, started for one benchmark and stopped after it. */
export interface TierPair {
  sshPort: number;
  mediatorPid: number;
  executorPid: number;
  stop(): Promise<void>;
}

/**
 * Starts an executor and a mediator that uses it, both from the dev stack's
 * configs (the mediator with the bench limits), with `env` added to both.
 * Adds the mediator's port to the bench known_hosts file (same host key).
 * `nodeArgs` go to both processes (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile).
 * `root` is the checkout whose built `dist/` runs (default this one; the A/B
 * benchmark passes another build of airlock).
 * The audit benchmark starts two pairs that differ only in
 * AIRLOCK_BENCH_UNSAFE_NO_AUDIT_FSYNC.
 */
export async function startTierPair(
  stack: BenchStack,
  stateDir: string,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
  root: string = repoRoot(),
): Promise<TierPair> {
  const executor = await startTier(stateDir, 'executor', {}, env, nodeArgs, root);
  let mediator: { child: ChildProcess; port: number };
  try {
    const base = JSON.parse(readFileSync(join(stateDir, 'config', 'mediator.json'), 'utf8')) as {
      executor: Record<string, unknown>;
    };
    mediator = await startTier(
      stateDir,
      'mediator',
      { limits: BENCH_LIMITS, executor: { ...base.executor, address: `127.0.0.1:${executor.port}` } },
      env,
      nodeArgs,
      root,
    );
  } catch (error) {
    await stopChild(executor.child);
    throw error;
  }
  const hostKey = readFileSync(stack.knownHostsPath, 'utf8').split('\n')[0]!.split(' ').slice(1).join(' ');
  appendFileSync(stack.knownHostsPath, `\n[127.0.0.1]:${mediator.port} ${hostKey}`);
  return {
    sshPort: mediator.port,
    mediatorPid: mediator.child.pid!,
    executorPid: executor.child.pid!,
    async stop() {
      await stopChild(mediator.child);
      await stopChild(executor.child);
    },
  };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}
