/**
 * `npm run bench`: every benchmark, one results file.
 *
 * Starts the local stack with a bench policy (bench-stack.ts), measures the
 * gateway against kubectl on the same cluster in the same run, stops the
 * stack, then runs the in-process micro-benchmarks. Writes
 * `bench/results/<UTC timestamp>.json` (headline ratios plus raw samples) and
 * `bench/results/latest.md`. A part that fails is recorded as an error and the
 * rest still run. Numbers are recorded, never asserted.
 *
 * AIRLOCK_BENCH_QUICK=1 runs every part with a handful of samples (a smoke run).
 * AIRLOCK_BENCH_PARTS=latency,audit-sessions runs only the named parts (see
 * PARTS); such a partial run writes `<timestamp>-partial.json` and leaves
 * `latest.md` alone, so it is for comparing before/after while working.
 * The micro-benchmarks also run alone: `node dist/bench/<name>.bench.js`
 * (ssh-cert, policy, broker, store, replicas, admission) prints that part's
 * JSON; `admission` starts a hermetic cluster of its own.
 * AIRLOCK_BENCH_PARTS=ab with AIRLOCK_BENCH_BASELINE_ROOT=DIR (another built
 * airlock checkout, e.g. `git archive <commit>` + `npm run build`) compares
 * that build's tiers with this one's in alternating rounds (ab.bench.ts);
 * 'ab' runs only when named.
 * AIRLOCK_BENCH_CPU_PROF_DIR=DIR profiles the phase part's tiers (--cpu-prof).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { UNSAFE_NO_AUDIT_FSYNC_ENV } from '../services/core/service/tier-trust.js';
import { type AbResult, benchAb } from './ab.bench.js';
import type { AdmissionBenchResult } from './admission.bench.js';
import { benchAudit } from './audit.bench.js';
import { startBenchStack, startTierPair } from './bench-stack.js';
import type { BrokerBenchResult } from './broker.bench.js';
import {
  benchAuditSessions,
  benchExecLatency,
  benchIdleMemory,
  benchPortForward,
  benchStdin,
  benchStdout,
  benchSustained,
  Clients,
} from './gateway.bench.js';
import { machineInfo } from './machine.js';
import { benchModeration, type ModerationBenchResult } from './moderation.bench.js';
import { benchPhases, type PhaseResult } from './phases.bench.js';
import type { ReplicaBenchResult } from './replicas.bench.js';
import { goals, type Headline, renderMarkdown } from './report.js';
import { detailRows } from './run-details.js';
import { MIB, PARTIAL, PARTS, PLAN, profileArgs, QUICK, SELECTED, want } from './run-plan.js';
import type { StoreBenchResult } from './store.bench.js';

const finite = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function part<T>(
  name: string,
  errors: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const start = Date.now();
  log(`${name}…`);
  try {
    const result = await fn();
    log(`${name} done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    return result;
  } catch (error) {
    errors[name] = error instanceof Error ? error.message : String(error);
    log(`${name} FAILED: ${errors[name]}`);
    return undefined;
  }
}

function runMicro(script: string): unknown {
  const run = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bench', script)], {
    encoding: 'utf8',
    maxBuffer: 16 * MIB,
  });
  if (run.status !== 0) throw new Error(`${script} exited ${run.status}: ${run.stderr.slice(-500)}`);
  return JSON.parse(run.stdout);
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const errors: Record<string, string> = {};
  let machine: ReturnType<typeof machineInfo> | undefined;
  let memory: Awaited<ReturnType<typeof benchIdleMemory>> | undefined;
  let latency: Awaited<ReturnType<typeof benchExecLatency>> | undefined;
  let stdout: Awaited<ReturnType<typeof benchStdout>> | undefined;
  let stdin: Awaited<ReturnType<typeof benchStdin>> | undefined;
  let forward: Awaited<ReturnType<typeof benchPortForward>> | undefined;
  let sustained: Awaited<ReturnType<typeof benchSustained>> | undefined;
  let auditSessions: Awaited<ReturnType<typeof benchAuditSessions>> | undefined;
  let phases: PhaseResult | undefined;
  let moderation: ModerationBenchResult | undefined;
  let ab: AbResult | undefined;
  const needsStack = PARTS.slice(0, 10).some(want);
  if (needsStack) {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
    const stack = await startBenchStack(stateDir, (line) => log(line), PLAN.users).catch((error: unknown) => {
      rmSync(stateDir, { recursive: true, force: true });
      throw error;
    });
    machine = machineInfo(stack.kubectl);
    log(`stack up: bench mediator pid ${stack.mediatorPid} on ssh port ${stack.sshPort}`);
    const clients = new Clients(stack);
    const user = stack.users[0]!;
    try {
      // Memory first, on a mediator that has served only a few warm-up sessions.
      if (want('memory'))
        memory = await part('idle memory', errors, async () => {
          for (let i = 0; i < 3; i++) await benchExecLatency(clients, user, 1, 0);
          return benchIdleMemory(clients, stack, stack.users, PLAN.idleSessions);
        });
      if (want('latency'))
        latency = await part('exec latency', errors, () =>
          benchExecLatency(clients, user, PLAN.latency.runs, PLAN.latency.warmup),
        );
      if (want('stdout'))
        stdout = await part('stdout throughput', errors, () =>
          benchStdout(clients, user, PLAN.streamBytes, PLAN.streamRuns),
        );
      if (want('stdin'))
        stdin = await part('stdin throughput', errors, () =>
          benchStdin(clients, user, PLAN.streamBytes, PLAN.streamRuns),
        );
      if (want('portforward'))
        forward = await part('port-forward throughput', errors, () =>
          benchPortForward(clients, stack, user, PLAN.streamBytes, PLAN.streamRuns),
        );
      if (want('sustained'))
        sustained = await part('sustained exec load', errors, () =>
          benchSustained(clients, stack.users, PLAN.load),
        );
      if (want('audit-sessions'))
        auditSessions = await part('exec sessions/s, audit fsync on vs off', errors, async () => {
          const on = await startTierPair(stack, stateDir);
          try {
            const off = await startTierPair(stack, stateDir, { [UNSAFE_NO_AUDIT_FSYNC_ENV]: '1' });
            try {
              return await benchAuditSessions(
                clients,
                stack.users,
                { on, off },
                PLAN.auditSessions.levels,
                PLAN.auditSessions.rounds,
              );
            } finally {
              await off.stop();
            }
          } finally {
            await on.stop();
          }
        });
      if (want('phases'))
        phases = await part('exec phase breakdown from spans', errors, () =>
          benchPhases(clients, stack, stateDir, user, PLAN.latency.runs, PLAN.latency.warmup, profileArgs()),
        );
      if (want('moderation'))
        moderation = await part('moderated session with observers', errors, () =>
          benchModeration(clients, stack, stateDir, PLAN.streamBytes, PLAN.moderationRuns),
        );
      if (SELECTED.has('ab') && process.env.AIRLOCK_BENCH_PARTS)
        ab = await part('before/after against AIRLOCK_BENCH_BASELINE_ROOT', errors, () => {
          const baseline = process.env.AIRLOCK_BENCH_BASELINE_ROOT;
          if (!baseline) throw new Error('AIRLOCK_BENCH_BASELINE_ROOT names no built checkout');
          return benchAb(
            clients,
            stack,
            stateDir,
            stack.users,
            baseline,
            QUICK ? 2 : 6,
            PLAN.streamBytes / 2,
            QUICK ? 4 : 60,
          );
        });
    } finally {
      log('stopping the stack');
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  machine ??= machineInfo(undefined);
  const audit = want('audit-micro')
    ? await part('audit durable vs non-durable', errors, () =>
        benchAudit(PLAN.audit.events, PLAN.audit.rounds),
      )
    : undefined;
  const sshCert = want('ssh-cert')
    ? await part('ssh-cert micro', errors, async () => runMicro('ssh-cert.bench.js'))
    : undefined;
  const policy = want('policy')
    ? await part('policy micro', errors, async () => runMicro('policy.bench.js'))
    : undefined;
  const broker = want('broker')
    ? ((await part('broker issuance', errors, async () => runMicro('broker.bench.js'))) as
        | BrokerBenchResult
        | undefined)
    : undefined;

  const store = want('store')
    ? ((await part('request store', errors, async () => runMicro('store.bench.js'))) as
        | StoreBenchResult
        | undefined)
    : undefined;

  const replicas = want('replicas')
    ? ((await part('broker replicas', errors, async () => runMicro('replicas.bench.js'))) as
        | ReplicaBenchResult
        | undefined)
    : undefined;

  const admission = want('admission')
    ? ((await part('admission latency', errors, async () => runMicro('admission.bench.js'))) as
        | AdmissionBenchResult
        | undefined)
    : undefined;

  const best = sustained?.gateway
    .filter((level) => level.errors === 0)
    .reduce<(typeof sustained.gateway)[number] | undefined>(
      (a, b) => (a === undefined || b.sessions_per_s > a.sessions_per_s ? b : a),
      undefined,
    );
  const headline: Headline = {
    exec_p50_ratio: finite(latency?.exec_p50_ratio),
    stdout_throughput_ratio: finite(stdout?.ratio),
    stdin_throughput_ratio: finite(stdin?.ratio),
    portforward_throughput_ratio: finite(forward?.ratio),
    portforward_short_transfers: forward?.short_transfers
      ? { gateway: forward.short_transfers.gateway.count, kubectl: forward.short_transfers.kubectl.count }
      : null,
    portforward_runs: forward ? PLAN.streamRuns + 1 : null,
    exec_sessions_per_s: best?.sessions_per_s ?? null,
    exec_sessions_p99_ms: best?.latency_ms.p99 ?? null,
    exec_sessions_concurrency: best?.concurrency ?? null,
    mediator_kib_per_idle_session: memory?.mediator_kib_per_idle_session ?? null,
    // Session rates (the measure), at the highest concurrency measured; the append micro-benchmark is a detail row.
    audit_on_off_ratio: finite(auditSessions?.levels.at(-1)?.ratio),
    broker_certs_per_s: finite(broker?.broker_certs_per_s),
    request_create_p50_ms: finite(broker?.request_create_p50_ms),
  };

  const details = detailRows({
    latency,
    stdout,
    stdin,
    forward,
    phases,
    moderation,
    ab,
    sustained,
    memory,
    auditSessions,
    audit,
    broker,
    store,
    replicas,
    admission,
  });
  const notes = [
    'Ratios compare p50s of samples taken in this run, interleaved with the baseline on the same machine; whole-process times (spawn to exit) of the real ssh and kubectl clients.',
    'Gateway side: a bench mediator (same binary, config and credentials as the dev stack; limits raised to 1000 sessions per principal and 200 unauthenticated per source, since every client is 127.0.0.1) and the dev executor, with a bench policy profile allowing `true`, `head -c * /dev/zero`, `wc -c` and port-forward to 9000.',
    'Baseline: the hermetic cluster’s kubectl with the cluster-admin kubeconfig against the same kube-apiserver and fake kubelet.',
    ...Object.entries(errors).map(([name, message]) => `FAILED ${name}: ${message}`),
  ];
  const results = {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    quick: QUICK,
    parts: [...SELECTED],
    machine,
    plan: PLAN,
    ...headline,
    goals: goals(headline),
    errors,
    exec_latency: latency,
    stdout_throughput: stdout,
    stdin_throughput: stdin,
    portforward_throughput: forward,
    sustained,
    idle_memory: memory,
    audit_sessions: auditSessions,
    exec_phases: phases,
    moderation,
    before_after: ab,
    audit,
    micro: { ssh_cert: sshCert, policy },
    broker,
    store,
    replicas,
    admission,
  };
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  const jsonPath = join(dir, `${stamp}${PARTIAL ? '-partial' : ''}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(startedAt, machine, headline, details, notes);
  if (!PARTIAL) writeFileSync(join(dir, 'latest.md'), markdown);
  process.stdout.write(`${markdown}\nresults: ${jsonPath}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
