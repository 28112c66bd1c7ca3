/**
 * Load benchmarks of the gateway: sustained exec sessions per second, the
 * mediator's memory per idle authenticated session, and audit under many sessions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_COMMANDS, type BenchStack, type BenchUser, stopChild } from './bench-stack.js';
import type { Clients } from './gateway-clients.js';
import { cpuMs, rssKiB } from './process-metrics.js';
import { type ProcessRun, runProcess } from './process-runner.js';
import { median, round, type Summary, summarize } from './stats.js';

export interface LoadLevel {
  concurrency: number;
  total: number;
  errors: number;
  /** Gateway only: CPU time of each tier per session over the whole level. */
  cpu_ms_per_session: Record<string, number>;
  sessions_per_s: number;
  latency_ms: Summary;
  samples_ms: number[];
}

export async function load(
  concurrency: number,
  total: number,
  command: (i: number) => [string, string[]],
  tierPids: Record<string, number> = {},
): Promise<LoadLevel> {
  const cpuBefore = Object.entries(tierPids).map(([tier, pid]) => [tier, pid, cpuMs(pid)] as const);
  let next = 0;
  let errors = 0;
  const latencies: number[] = [];
  const start = process.hrtime.bigint();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const run: ProcessRun = await runProcess(...command(i));
      if (run.code === 0) latencies.push(round(run.ms));
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    concurrency,
    total,
    errors,
    cpu_ms_per_session: Object.fromEntries(
      cpuBefore.map(([tier, pid, ms]) => [tier, round((cpuMs(pid) - ms) / total, 1)]),
    ),
    sessions_per_s: round(latencies.length / wallS),
    latency_ms: summarize(latencies),
    samples_ms: latencies,
  };
}

export interface SustainedResult {
  argv: readonly string[];
  gateway: LoadLevel[];
  kubectl: LoadLevel[];
}

/** Exec sessions per second at each concurrency: ssh processes in parallel, spread over the bench users. */
export async function benchSustained(
  clients: Clients,
  users: readonly BenchUser[],
  levels: readonly { concurrency: number; total: number }[],
): Promise<SustainedResult> {
  const argv = BENCH_COMMANDS.noop;
  const gateway: LoadLevel[] = [];
  const kubectl: LoadLevel[] = [];
  for (const { concurrency, total } of levels) {
    gateway.push(
      await load(
        concurrency,
        total,
        (i) => clients.gatewayExec(users[i % users.length]!, argv),
        clients.tierPids,
      ),
    );
    kubectl.push(await load(concurrency, total, () => clients.kubectlExec(argv)));
  }
  return { argv, gateway, kubectl };
}

async function settledRss(pid: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(300);
    reads.push(rssKiB(pid));
  }
  return reads.sort((a, b) => a - b)[2]!;
}

/** Opens `ssh -N` and resolves once it is authenticated (OpenSSH says so at LogLevel VERBOSE). */
function openIdle(clients: Clients, user: BenchUser): Promise<ChildProcess> {
  const child = spawn('ssh', clients.sshBase(user, ['-N', '-o', 'LogLevel=VERBOSE']), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('Authenticated to')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`idle ssh exited ${code}: ${text.slice(-300)}`)));
  });
}

export interface MemoryResult {
  mediator_pid: number;
  idle_sessions: number;
  rss_kib_before: number;
  rss_kib_with_sessions: number;
  rss_kib_after_close: number;
  mediator_kib_per_idle_session: number;
}

/** Mediator RSS at 0 and K idle authenticated `ssh -N` connections (opened 10 at a time). */
export async function benchIdleMemory(
  clients: Clients,
  stack: BenchStack,
  users: readonly BenchUser[],
  idle: number,
): Promise<MemoryResult> {
  const pid = stack.mediatorPid;
  const before = await settledRss(pid);
  const open: ChildProcess[] = [];
  try {
    while (open.length < idle) {
      const batch = Math.min(10, idle - open.length);
      const base = open.length;
      open.push(
        ...(await Promise.all(
          Array.from({ length: batch }, (_, j) => openIdle(clients, users[(base + j) % users.length]!)),
        )),
      );
    }
    const withSessions = await settledRss(pid);
    await Promise.all(open.map((c) => stopChild(c)));
    open.length = 0;
    const after = await settledRss(pid);
    return {
      mediator_pid: pid,
      idle_sessions: idle,
      rss_kib_before: before,
      rss_kib_with_sessions: withSessions,
      rss_kib_after_close: after,
      mediator_kib_per_idle_session: round((withSessions - before) / idle, 1),
    };
  } finally {
    await Promise.all(open.map((c) => stopChild(c)));
  }
}

export interface AuditSessionLevel {
  concurrency: number;
  total: number;
  /** Sessions/s of each round, fsync on and off, in the order they ran. */
  on_sessions_per_s: number[];
  off_sessions_per_s: number[];
  on: Summary;
  off: Summary;
  /** median(on) / median(off). */
  ratio: number;
  errors: { on: number; off: number };
  on_latency_ms: Summary;
  off_latency_ms: Summary;
  /** CPU time of each tier per session, fsync on / off (median over rounds). */
  cpu_ms_per_session: { on: Record<string, number>; off: Record<string, number> };
}

export interface AuditSessionsResult {
  argv: readonly string[];
  rounds: number;
  levels: AuditSessionLevel[];
}

/** A mediator+executor pair as the audit benchmark sees it. */
export interface PairTarget {
  sshPort: number;
  mediatorPid: number;
  executorPid: number;
}

/**
 * Exec sessions per second through two otherwise identical mediator+executor
 * pairs, one with the durable audit trail (fsync) and one with
 * AIRLOCK_BENCH_UNSAFE_NO_AUDIT_FSYNC=1: ROUNDS rounds per concurrency level,
 * alternating which pair goes first, so drift on a shared machine hits both.
 */
export async function benchAuditSessions(
  clients: Clients,
  users: readonly BenchUser[],
  pairs: { on: PairTarget; off: PairTarget },
  levels: readonly { concurrency: number; total: number }[],
  rounds: number,
): Promise<AuditSessionsResult> {
  const argv = BENCH_COMMANDS.noop;
  const run = (pair: PairTarget, concurrency: number, total: number) =>
    load(concurrency, total, (i) => clients.gatewayExec(users[i % users.length]!, argv, pair.sshPort), {
      mediator: pair.mediatorPid,
      executor: pair.executorPid,
    });
  for (const pair of [pairs.on, pairs.off]) await run(pair, 2, 4); // warm-up: channels, JIT
  const result: AuditSessionLevel[] = [];
  for (const { concurrency, total } of levels) {
    const on: LoadLevel[] = [];
    const off: LoadLevel[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        on.push(await run(pairs.on, concurrency, total));
        off.push(await run(pairs.off, concurrency, total));
      } else {
        off.push(await run(pairs.off, concurrency, total));
        on.push(await run(pairs.on, concurrency, total));
      }
    }
    const rates = (levels: LoadLevel[]) => levels.map((l) => l.sessions_per_s);
    const cpu = (levels: LoadLevel[]) =>
      Object.fromEntries(
        ['mediator', 'executor'].map((tier) => [
          tier,
          round(median(levels.map((l) => l.cpu_ms_per_session[tier]!)), 1),
        ]),
      );
    const onSummary = summarize(rates(on));
    const offSummary = summarize(rates(off));
    result.push({
      concurrency,
      total,
      on_sessions_per_s: rates(on),
      off_sessions_per_s: rates(off),
      on: onSummary,
      off: offSummary,
      ratio: round(onSummary.p50 / offSummary.p50, 3),
      errors: {
        on: on.reduce((n, l) => n + l.errors, 0),
        off: off.reduce((n, l) => n + l.errors, 0),
      },
      on_latency_ms: summarize(on.flatMap((l) => l.samples_ms)),
      off_latency_ms: summarize(off.flatMap((l) => l.samples_ms)),
      cpu_ms_per_session: { on: cpu(on), off: cpu(off) },
    });
  }
  return { argv, rounds, levels: result };
}
