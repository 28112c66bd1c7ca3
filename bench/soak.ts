/**
 * `npm run soak -- [--sessions N] [--duration D] [--think-ms MS]`: a long
 * run of many concurrent SSH sessions against the local stack, then a check
 * that nothing was lost. Not part of CI (docs/reliability.md).
 *
 * Each session is one real OpenSSH connection (a ControlMaster) held open for
 * the whole run; its commands are channels multiplexed over it, so a session
 * issues many intents, as a person's does. Each command is picked at random
 * from allowed and denied actions (ACTIONS). Afterwards:
 *
 * - zero unexpected outcomes: an allowed action exits 0 with its output, a
 *   denied one exits 77 with its code on stderr;
 * - every session in both trails: the mediator's and the executor's
 *   `session.opened` and `session.closed` name exactly the client's sessions;
 * - every intent in both trails, counted per session: the mediator records
 *   each allowed action as `intent.allowed` and each denied one as
 *   `intent.denied`; the executor records each allowed one as
 *   `intent.allowed` and never sees a denied one (the mediator refuses it
 *   first), so it has no `intent.denied` for these users;
 * - memory: RSS of the mediator and the executor, sampled every 5 s, grows
 *   less than 10 % from the end of warm-up (the first third of the run) to the
 *   end.
 *
 * Writes bench/results/soak-<UTC timestamp>.json and exits 1 if any check
 * failed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { repoRoot } from '../services/core/repo/repo-root.js';
import { type BenchStack, type BenchUser, startBenchStack, stopChild } from './bench-stack.js';

import { rssKiB } from './gateway.bench.js';
import { machineInfo } from './machine.js';
import {
  type Check,
  type MemorySample,
  memoryChecks,
  memoryGrowth,
  outcomeChecks,
  perSessionChecks,
  type Trails,
  trailChecks,
} from './soak-checks.js';
import { parseOptions } from './soak-options.js';
import { openMaster, runSession, type SessionRun } from './soak-session.js';
import { readTrail } from './soak-trail.js';

type Options = ReturnType<typeof parseOptions>;

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

/**
 * Opens the sessions' masters in batches (every client is 127.0.0.1, and the
 * mediator bounds unauthenticated connections per source address); each
 * entry is the master or why it failed to open.
 */
async function openMasters(
  stack: BenchStack,
  users: readonly BenchUser[],
  controlPaths: readonly string[],
): Promise<(ChildProcess | Error)[]> {
  const opened: (ChildProcess | Error)[] = [];
  for (let i = 0; i < users.length; i += 20) {
    const batch = await Promise.all(
      users
        .slice(i, i + 20)
        .map((user, j) => openMaster(stack, user, controlPaths[i + j]!).catch((e: unknown) => e as Error)),
    );
    opened.push(...batch);
  }
  return opened;
}

/**
 * Opens the sessions (adding each open master to `masters`), runs them until
 * the duration is over while sampling both tiers' RSS into `memory`, adds
 * their runs to `runs`, then closes them.
 */
async function runLoad(
  stack: BenchStack,
  options: Options,
  controlDir: string,
  masters: ChildProcess[],
  memory: MemorySample[],
  runs: SessionRun[],
): Promise<void> {
  const users = stack.users;
  const tiers = { mediator: stack.mediatorPid, executor: stack.executorPid };
  log('opening sessions');
  const controlPaths = users.map((_, i) => join(controlDir, `c${i}`));
  const opened = await openMasters(stack, users, controlPaths);
  for (const m of opened) if (!(m instanceof Error)) masters.push(m);
  const loadStartedAt = Date.now();
  const endAt = loadStartedAt + options.durationMs;
  log(`${masters.length} sessions open; running for ${options.durationMs / 1000} s`);
  const sampler = setInterval(() => {
    memory.push({
      at_s: Math.round((Date.now() - loadStartedAt) / 1000),
      mediator_kib: rssKiB(tiers.mediator),
      executor_kib: rssKiB(tiers.executor),
    });
  }, 5000);
  const results = await Promise.all(
    users.map((user, i) => {
      const master = opened[i]!;
      if (master instanceof Error)
        return Promise.resolve<SessionRun>({ user: user.name, outcomes: [], error: master.message });
      return runSession(stack, user, controlPaths[i]!, endAt, options.thinkMs);
    }),
  );
  clearInterval(sampler);
  runs.push(...results);
  log('closing sessions');
  await Promise.all(masters.map((m) => stopChild(m)));
  // CloseSession and the closing audit records follow the TCP close.
  await sleep(3000);
}

/** Both tiers' trails, the bench users' events only; read once the stack is stopped, so closed and complete. */
function readTrails(stateDir: string, users: readonly BenchUser[]): Trails {
  const names = new Set(users.map((u) => u.name));
  const auditDir = join(stateDir, 'audit');
  const mediatorTrail = readdirSync(auditDir).find((f) => /^bench-mediator-.*\.jsonl$/.test(f));
  if (!mediatorTrail) throw new Error('no bench mediator audit trail');
  return {
    mediator: readTrail(join(auditDir, mediatorTrail), names),
    executor: readTrail(join(auditDir, 'executor.jsonl'), names),
  };
}

/** Runs and unexpected outcomes per action. */
function byActionOf(outcomes: SessionRun['outcomes']): Record<string, { runs: number; unexpected: number }> {
  const byAction: Record<string, { runs: number; unexpected: number }> = {};
  for (const o of outcomes) {
    const entry = byAction[o.action] ?? { runs: 0, unexpected: 0 };
    byAction[o.action] = entry;
    entry.runs++;
    if (!o.ok) entry.unexpected++;
  }
  return byAction;
}

/** Every check, in the order they are printed. */
function allChecks(
  runs: readonly SessionRun[],
  trails: Trails,
  growth: Record<string, number | null>,
): Check[] {
  const outcomes = runs.flatMap((r) => r.outcomes);
  const sessions = runs.length - runs.filter((r) => r.error).length;
  const allowed = outcomes.filter((o) => o.allowed).length;
  const denied = outcomes.length - allowed;
  return [
    ...outcomeChecks(runs),
    ...trailChecks(trails, sessions, allowed, denied),
    ...perSessionChecks(trails, runs),
    ...memoryChecks(growth),
  ];
}

/** The results file's content. */
function resultsOf(
  startedAt: string,
  options: Options,
  runs: readonly SessionRun[],
  memory: readonly MemorySample[],
  growth: Record<string, number | null>,
  checks: Check[],
) {
  const outcomes = runs.flatMap((r) => r.outcomes);
  const allowed = outcomes.filter((o) => o.allowed).length;
  return {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    command: `npm run soak -- --sessions ${options.sessions} --duration ${options.durationMs / 1000}s --think-ms ${options.thinkMs}`,
    machine: machineInfo(),
    options: { sessions: options.sessions, duration_s: options.durationMs / 1000, think_ms: options.thinkMs },
    commands: {
      total: outcomes.length,
      allowed,
      denied: outcomes.length - allowed,
      by_action: byActionOf(outcomes),
    },
    unexpected: outcomes.filter((o) => !o.ok).slice(0, 20),
    memory_growth_percent: growth,
    memory_samples: memory,
    checks,
    passed: checks.every((c) => c.ok),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-soak-'));
  // Unix socket paths are short (108 bytes): the control sockets get their own short dir.
  const controlDir = mkdtempSync(join(tmpdir(), 'soak-'));
  log(`starting the stack for ${options.sessions} sessions`);
  const stack = await startBenchStack(stateDir, log, options.sessions);
  const memory: MemorySample[] = [];
  const masters: ChildProcess[] = [];
  const runs: SessionRun[] = [];
  try {
    await runLoad(stack, options, controlDir, masters, memory, runs);
  } finally {
    for (const m of masters) if (m.exitCode === null) m.kill('SIGKILL');
    log('stopping the stack');
    await stack.stop();
    rmSync(controlDir, { recursive: true, force: true });
  }

  const trails = readTrails(stateDir, stack.users);
  const growth = memoryGrowth(memory, options.durationMs);
  const checks = allChecks(runs, trails, growth);
  const results = resultsOf(startedAt, options, runs, memory, growth, checks);
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `soak-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  rmSync(stateDir, { recursive: true, force: true });
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  process.stdout.write(`results: ${path}\n`);
  process.exitCode = results.passed ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
