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
import { type DetailRow, goals, type Headline, renderMarkdown } from './report.js';
import type { StoreBenchResult } from './store.bench.js';

const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
const MIB = 1024 * 1024;
const PLAN = QUICK
  ? {
      users: 5,
      idleSessions: 10,
      latency: { runs: 5, warmup: 1 },
      streamBytes: 8 * MIB,
      streamRuns: 2,
      moderationRuns: 1,
      load: [
        { concurrency: 1, total: 3 },
        { concurrency: 10, total: 10 },
        { concurrency: 50, total: 50 },
      ],
      audit: { events: 50, rounds: 2 },
      auditSessions: {
        rounds: 2,
        levels: [
          { concurrency: 1, total: 4 },
          { concurrency: 10, total: 20 },
        ],
      },
    }
  : {
      users: 10,
      idleSessions: 100,
      latency: { runs: 40, warmup: 5 },
      streamBytes: 64 * MIB,
      streamRuns: 5,
      moderationRuns: 5,
      load: [
        { concurrency: 1, total: 20 },
        { concurrency: 10, total: 60 },
        { concurrency: 50, total: 100 },
      ],
      audit: { events: 300, rounds: 5 },
      auditSessions: {
        rounds: 3,
        levels: [
          { concurrency: 1, total: 15 },
          { concurrency: 10, total: 60 },
        ],
      },
    };

/** The parts AIRLOCK_BENCH_PARTS can name; the first ten need the stack ('ab' only runs when named). */
const PARTS = [
  'memory',
  'latency',
  'stdout',
  'stdin',
  'portforward',
  'sustained',
  'audit-sessions',
  'phases',
  'moderation',
  'ab',
  'audit-micro',
  'ssh-cert',
  'policy',
  'broker',
  'store',
  'replicas',
  'admission',
] as const;
type PartName = (typeof PARTS)[number];

function selectedParts(value: string | undefined): ReadonlySet<PartName> {
  if (value === undefined || value.trim() === '') return new Set(PARTS);
  const names = value.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`AIRLOCK_BENCH_PARTS: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
  return new Set(names as PartName[]);
}

const SELECTED = selectedParts(process.env.AIRLOCK_BENCH_PARTS);
const PARTIAL = SELECTED.size < PARTS.length;
const want = (name: PartName) => SELECTED.has(name);

const finite = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

const shortNote = (count: number | undefined) =>
  count ? `; ${count} connection(s) ended short, excluded` : '';

/**
 * AIRLOCK_BENCH_CPU_PROF_DIR=DIR: the phase part's tiers run with
 * `--cpu-prof`, writing their profiles into DIR when they stop.
 */
function profileArgs(): string[] {
  const dir = process.env.AIRLOCK_BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

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
    // Session rates (the issue's measure), at the highest concurrency measured; the append micro-benchmark is a detail row.
    audit_on_off_ratio: finite(auditSessions?.levels.at(-1)?.ratio),
    broker_certs_per_s: finite(broker?.broker_certs_per_s),
    request_create_p50_ms: finite(broker?.request_create_p50_ms),
  };

  const details: DetailRow[] = [];
  if (latency)
    details.push({
      what: `exec \`${latency.argv.join(' ')}\` latency, ms p50 / p90 / p99 (n=${latency.gateway_ms.n})`,
      gateway: `${latency.gateway_ms.p50} / ${latency.gateway_ms.p90} / ${latency.gateway_ms.p99}`,
      kubectl: `${latency.kubectl_ms.p50} / ${latency.kubectl_ms.p90} / ${latency.kubectl_ms.p99}`,
    });
  if (latency)
    details.push({
      what: '`whoami` latency (gateway only, no Kubernetes call), ms p50 / p90 / p99',
      gateway: `${latency.gateway_whoami_ms.p50} / ${latency.gateway_whoami_ms.p90} / ${latency.gateway_whoami_ms.p99}`,
      kubectl: '—',
    });
  for (const t of [stdout, stdin, forward])
    if (t)
      details.push({
        what: `${t.what}, ${t.bytes / MIB} MiB, MB/s p50 (n=${t.runs})`,
        gateway: `${Number.isFinite(t.gateway_mb_s.p50) ? t.gateway_mb_s.p50 : 'no complete transfer'} (CPU ms/MiB: ${Object.entries(
          t.gateway_cpu_ms_per_mib,
        )
          .map(([tier, ms]) => `${tier} ${ms}`)
          .join(', ')})${shortNote(t.short_transfers?.gateway.count)}`,
        kubectl: `${t.kubectl_mb_s.p50}${shortNote(t.short_transfers?.kubectl.count)}`,
      });
  if (stdout?.output_incomplete)
    details.push({
      what: 'exec stdout: gateway runs ended OUTPUT_INCOMPLETE, with every byte / bytes really lost',
      gateway: `${stdout.output_incomplete.complete} / ${stdout.output_incomplete.short} of ${stdout.runs + stdout.output_incomplete.short + 1} (warm-up included)`,
      kubectl: '—',
    });
  if (phases) {
    details.push({
      what: `exec \`true\` with span export (phase part), ms p50 (n=${phases.gateway_ms.n}; ${phases.complete} traces complete)`,
      gateway: `${phases.gateway_ms.p50} (ratio ${phases.exec_p50_ratio})`,
      kubectl: `${phases.kubectl_ms.p50}`,
    });
    for (const [group, ms] of Object.entries(phases.groups_ms))
      details.push({
        what: `· phase: ${group}, ms p50 / mean`,
        gateway: `${ms.p50} / ${ms.mean}`,
        kubectl: '—',
      });
  }
  if (moderation)
    for (const [name, mb] of Object.entries(moderation.owner_mb_s))
      details.push({
        what: `moderated session, owner stdout ${moderation.bytes / MIB} MiB, observers: ${name}, MB/s p50 (n=${mb.n})`,
        gateway: `${mb.p50} (ratio to none ${moderation.ratio_to_none[name as keyof typeof moderation.ratio_to_none]}; mediator CPU ms/MiB ${moderation.mediator_cpu_ms_per_mib[name as keyof typeof moderation.mediator_cpu_ms_per_mib]})`,
        kubectl: '—',
      });
  if (moderation)
    details.push({
      what: 'moderated session: stalled observer dropped (trail) / its client saw OBSERVER_DROPPED / the owner saw it leave, of runs',
      gateway: `${moderation.stalled.dropped} / ${moderation.stalled.saw_message} / ${moderation.stalled.owner_told} of ${moderation.stalled.runs}; full-speed observers dropped too: ${moderation.readers_dropped.read1} (1 observer), ${moderation.readers_dropped.read5} (5 observers)${moderation.short.length ? `; ${moderation.short.length} owner run(s) short` : ''}`,
      kubectl: '—',
    });
  if (ab)
    for (const [metric, old] of Object.entries(ab.summary.old))
      details.push({
        what: `before → after (${ab.rounds} alternating rounds): ${metric}`,
        gateway: `${old} → ${ab.summary.new[metric]}`,
        kubectl: '—',
      });
  if (sustained)
    sustained.gateway.forEach((g, i) => {
      const k = sustained.kubectl[i]!;
      details.push({
        what: `exec sessions/s at concurrency ${g.concurrency} (${g.total} sessions), p99 ms`,
        gateway: `${g.sessions_per_s}/s, p99 ${g.latency_ms.p99}${g.errors ? `, ${g.errors} failed` : ''} (CPU ms/session: ${Object.entries(
          g.cpu_ms_per_session,
        )
          .map(([tier, ms]) => `${tier} ${ms}`)
          .join(', ')})`,
        kubectl: `${k.sessions_per_s}/s, p99 ${k.latency_ms.p99}${k.errors ? `, ${k.errors} failed` : ''}`,
      });
    });
  if (memory)
    details.push({
      what: `mediator RSS, KiB: 0 → ${memory.idle_sessions} idle sessions → closed`,
      gateway: `${memory.rss_kib_before} → ${memory.rss_kib_with_sessions} → ${memory.rss_kib_after_close}`,
      kubectl: '—',
    });
  for (const level of auditSessions?.levels ?? [])
    details.push({
      what: `exec sessions/s with audit fsync on / off (separate mediator+executor pairs), concurrency ${level.concurrency}, p50 of ${auditSessions!.rounds} × ${level.total} sessions`,
      gateway: `${level.on.p50} / ${level.off.p50} (ratio ${level.ratio}; p99 ms ${level.on_latency_ms.p99} / ${level.off_latency_ms.p99}${level.errors.on + level.errors.off ? `; failed ${level.errors.on} / ${level.errors.off}` : ''})`,
      kubectl: '—',
    });
  if (audit)
    details.push({
      what: `audit appends/s, fsync on / off, one at a time (p50 of ${audit.rounds} × ${audit.events_per_round})`,
      gateway: `${audit.durable_events_per_s.p50} / ${audit.non_durable_events_per_s.p50}`,
      kubectl: '—',
    });
  if (audit)
    details.push({
      what: `audit appends/s, fsync on / off, ${audit.concurrent.in_flight} in flight`,
      gateway: `${audit.concurrent.durable_events_per_s.p50} / ${audit.concurrent.non_durable_events_per_s.p50} (ratio ${audit.concurrent.ratio})`,
      kubectl: '—',
    });
  if (broker)
    details.push(
      {
        what: `broker request create (auto-approved, HTTPS), ms p50 / p90 / p99 (n=${broker.request_create_ms.n})`,
        gateway: `${broker.request_create_ms.p50} / ${broker.request_create_ms.p90} / ${broker.request_create_ms.p99}`,
        kubectl: '—',
      },
      {
        what: `broker certificates/s, one at a time / ${broker.certificate_concurrent.in_flight} in flight (n=${broker.plan.certificates} each)`,
        gateway: `${broker.certificate_sequential.certs_per_s} / ${broker.certificate_concurrent.certs_per_s} (p50 ${broker.certificate_sequential.latency_ms.p50} ms)`,
        kubectl: '—',
      },
    );
  for (const row of store?.rows ?? [])
    details.push({
      what: `request store ${row.store}, ${row.stored_requests} stored: create / approve ms p50 / p99 (n=${row.create_ms.n})`,
      gateway: `${row.create_ms.p50} / ${row.create_ms.p99} — ${row.approve_ms.p50} / ${row.approve_ms.p99}`,
      kubectl: '—',
    });
  for (const row of replicas?.rows ?? [])
    details.push({
      what: `broker certificates/s with ${row.replicas} replica(s) on one PostgreSQL, ${replicas?.plan.inFlight} in flight (n=${row.request_ms.n}, errors ${row.errors})`,
      gateway: `${row.certs_per_s} (request p50 ${row.request_ms.p50} ms)`,
      kubectl: '—',
    });
  if (admission)
    details.push({
      what: `\`kubectl exec ${admission.argv.join(' ')}\` as a jit: group with / without the ${admission.policies} admission objects, ms p50 / p99 (n=${admission.runs} each, interleaved)`,
      gateway: '—',
      kubectl: `${admission.with_policies_ms.p50} / ${admission.with_policies_ms.p99} — ${admission.without_policies_ms.p50} / ${admission.without_policies_ms.p99} (p50 added ${admission.added_p50_ms})`,
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
