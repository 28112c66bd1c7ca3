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
 * Part `ephemeral-pods` (pods.bench.ts; alone: AIRLOCK_BENCH_PARTS=ephemeral-pods,
 * or `node dist/bench/pods.bench.js`) needs a real node: where none can run
 * it is skipped and the report's notes and detail rows say why.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { machineInfo } from './machine.js';
import { goals, type Headline, renderMarkdown } from './report.js';
import { detailRows, type MeasuredParts } from './run-details.js';
import { type MicroParts, runMicroParts } from './run-parts.js';
import { PARTIAL, PLAN, QUICK, SELECTED } from './run-plan.js';
import { runStackParts } from './run-stack.js';

const finite = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

/** The headline numbers of a run; null where their part did not run or failed. */
function headlineOf({
  latency,
  stdout,
  stdin,
  forward,
  sustained,
  memory,
  auditSessions,
  broker,
}: MeasuredParts): Headline {
  const best = sustained?.gateway
    .filter((level) => level.errors === 0)
    .reduce<(typeof sustained.gateway)[number] | undefined>(
      (a, b) => (a === undefined || b.sessions_per_s > a.sessions_per_s ? b : a),
      undefined,
    );
  return {
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
}

/** The report's notes: how the numbers were taken, every part that failed, and a skipped real-node part. */
function notesOf(errors: Record<string, string>, pods: MicroParts['pods']): string[] {
  return [
    'Ratios compare p50s of samples taken in this run, interleaved with the baseline on the same machine; whole-process times (spawn to exit) of the real ssh and kubectl clients.',
    'Gateway side: a bench mediator (same binary, config and credentials as the dev stack; limits raised to 1000 sessions per principal and 200 unauthenticated per source, since every client is 127.0.0.1) and the dev executor, with a bench policy profile allowing `true`, `head -c * /dev/zero`, `wc -c` and port-forward to 9000.',
    'Baseline: the hermetic cluster’s kubectl with the cluster-admin kubeconfig against the same kube-apiserver and fake kubelet.',
    ...Object.entries(errors).map(([name, message]) => `FAILED ${name}: ${message}`),
    ...(pods?.skipped ? [`SKIPPED ephemeral-pods (no real node here): ${pods.skipped}`] : []),
  ];
}

/** The results file's content: headline ratios plus every part's raw samples. */
function resultsOf(
  startedAt: string,
  machine: ReturnType<typeof machineInfo>,
  headline: Headline,
  errors: Record<string, string>,
  m: MeasuredParts & MicroParts,
) {
  return {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    quick: QUICK,
    parts: [...SELECTED],
    machine,
    plan: PLAN,
    ...headline,
    goals: goals(headline),
    errors,
    exec_latency: m.latency,
    stdout_throughput: m.stdout,
    stdin_throughput: m.stdin,
    portforward_throughput: m.forward,
    sustained: m.sustained,
    idle_memory: m.memory,
    audit_sessions: m.auditSessions,
    exec_phases: m.phases,
    moderation: m.moderation,
    before_after: m.ab,
    audit: m.audit,
    micro: { ssh_cert: m.sshCert, policy: m.policy },
    broker: m.broker,
    store: m.store,
    replicas: m.replicas,
    admission: m.admission,
    ephemeral_pods: m.pods,
  };
}

/** Writes `bench/results/<stamp>[-partial].json`, and `latest.md` unless partial, and prints the report. */
function writeResults(startedAt: string, results: unknown, markdown: () => string): void {
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  const jsonPath = join(dir, `${stamp}${PARTIAL ? '-partial' : ''}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const text = markdown();
  if (!PARTIAL) writeFileSync(join(dir, 'latest.md'), text);
  process.stdout.write(`${text}\nresults: ${jsonPath}\n`);
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const errors: Record<string, string> = {};
  const { machine: stackMachine, ...stackParts } = await runStackParts(errors);
  const machine = stackMachine ?? machineInfo(undefined);
  const micro = await runMicroParts(errors);
  const measured = { ...stackParts, ...micro };
  const headline = headlineOf(measured);
  const details = detailRows(measured);
  const notes = notesOf(errors, micro.pods);
  const results = resultsOf(startedAt, machine, headline, errors, measured);
  writeResults(startedAt, results, () => renderMarkdown(startedAt, machine, headline, details, notes));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
