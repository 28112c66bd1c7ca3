/**
 * Where an exec session's time goes: the phase breakdown of
 * `ssh … exec payments-api-0 -- true` from the tiers' own spans
 * (docs/telemetry.md). A dedicated mediator+executor pair exports its spans
 * over OTLP/HTTP to a receiver in this process; each sample is one ssh
 * process (timed from spawn to exit here) joined to its trace (the
 * `ssh.session` span that started while it ran). kubectl runs interleaved,
 * as in the latency benchmark, so the ratio under span export is known too.
 */
import { performance } from 'node:perf_hooks';
import { BENCH_COMMANDS, type BenchStack, type BenchUser, startTierPair } from './bench-stack.js';
import type { Clients } from './gateway.bench.js';
import { runChecked } from './process-runner.js';
import { type CollectedSpan, startSpanCollector } from './span-collector.js';
import { round, type Summary, summarize } from './stats.js';

/**
 * The boundaries of one exec session, in order. Each phase runs from the
 * previous boundary to its own; `spawn` is the ssh process starting and
 * `exit` the process exiting, both timed by the benchmark.
 */
export const PHASES = [
  ['client_connect', 'ssh client start, TCP connect, version exchange (to ssh.session start)'],
  ['ssh_handshake_auth', 'SSH key exchange and certificate authentication (ssh.authenticated)'],
  ['grant_issue', 'session grant issued by the mediator CA (session.grant_issued)'],
  ['executor_connect', 'new mTLS channel to the executor, until executor.OpenSession starts'],
  ['open_session_verify', 'executor re-verifies certificate, signature and grant (session.verified)'],
  ['open_session_audit', 'durable session.opened audit record (executor.OpenSession end)'],
  ['open_session_return', 'OpenSession answer back at the mediator (executor.session_opened)'],
  ['command_start', 'until the exec command starts (airlock.command start)'],
  ['exec_call_start', 'early policy check and the Exec stream reaching the executor (executor.Exec start)'],
  ['intent_authorize', 'session lookup, policy, durable intent.allowed record (intent.authorized)'],
  ['resolve_container', 'default-container lookup (kube.get) and exec.started record, until kube.exec'],
  ['kube_upgrade', 'Kubernetes exec WebSocket upgrade (kube.stream_opened)'],
  ['kube_first_frame', 'first frame from the kubelet: output or status (kube.first_frame)'],
  ['kube_exec_rest', 'rest of the Kubernetes exec (kube.exec end)'],
  ['exec_finish', 'drain, exec.exited record, exit status (executor.Exec end)'],
  ['command_finish', 'exit status back at the mediator (airlock.command end)'],
  ['client_exit', 'channel close, SSH disconnect, ssh process exit'],
] as const;
export type PhaseName = (typeof PHASES)[number][0];

/** The five phases the issue names, plus what comes after the first byte, as sums of the above. */
export const PHASE_GROUPS: Record<string, readonly PhaseName[]> = {
  'SSH handshake + certificate auth': ['client_connect', 'ssh_handshake_auth'],
  'session grant + executor session': [
    'grant_issue',
    'executor_connect',
    'open_session_verify',
    'open_session_audit',
    'open_session_return',
    'command_start',
  ],
  'intent authorisation': ['exec_call_start', 'intent_authorize'],
  'Kubernetes exec upgrade': ['resolve_container', 'kube_upgrade'],
  'first byte': ['kube_first_frame'],
  'exit and teardown': ['kube_exec_rest', 'exec_finish', 'command_finish', 'client_exit'],
};

/**
 * One sample's phases in ms, from its spans; undefined when a boundary is
 * missing (a span not exported, or a different shape of session).
 */
export function phasesOf(
  spans: readonly CollectedSpan[],
  spawnMs: number,
  exitMs: number,
): Record<PhaseName, number> | undefined {
  const session = spans.find((s) => s.name === 'ssh.session' && s.parentSpanId === undefined);
  if (!session) return undefined;
  const child = (parent: CollectedSpan | undefined, name: string) =>
    parent && spans.find((s) => s.name === name && s.parentSpanId === parent.spanId);
  const event = (span: CollectedSpan | undefined, name: string) =>
    span?.events.find((e) => e.name === name)?.timeMs;
  const open = child(session, 'executor.OpenSession');
  const command = child(session, 'airlock.command');
  const exec = child(command, 'executor.Exec');
  const kubeExec = child(exec, 'kube.exec');
  const boundaries = [
    spawnMs,
    session.startMs,
    event(session, 'ssh.authenticated'),
    event(session, 'session.grant_issued'),
    open?.startMs,
    event(open, 'session.verified'),
    open?.endMs,
    event(session, 'executor.session_opened'),
    command?.startMs,
    exec?.startMs,
    event(exec, 'intent.authorized'),
    kubeExec?.startMs,
    event(kubeExec, 'kube.stream_opened'),
    event(kubeExec, 'kube.first_frame'),
    kubeExec?.endMs,
    exec?.endMs,
    command?.endMs,
    exitMs,
  ];
  if (boundaries.some((b) => b === undefined)) return undefined;
  const times = boundaries as number[];
  return Object.fromEntries(PHASES.map(([name], i) => [name, round(times[i + 1]! - times[i]!, 3)])) as Record<
    PhaseName,
    number
  >;
}

export interface PhaseResult {
  argv: readonly string[];
  runs: number;
  /** Samples whose trace had every boundary (the others are left out). */
  complete: number;
  gateway_ms: Summary;
  kubectl_ms: Summary;
  /** gateway / kubectl p50 with span export on (the latency part has it with export off). */
  exec_p50_ratio: number;
  /** Per phase: p50 and mean in ms (means add up to the mean total; p50s need not). */
  phases_ms: Record<PhaseName, { p50: number; mean: number; what: string }>;
  groups_ms: Record<string, { p50: number; mean: number }>;
  samples: Record<PhaseName, number>[];
}

function meanOf(values: readonly number[]): number {
  return round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), 2);
}

/** Joins each gateway sample (spawn to exit, epoch ms) to its trace in `spans` and summarises the phases. */
function phaseResult(
  argv: readonly string[],
  runs: number,
  samples: readonly { spawnMs: number; exitMs: number }[],
  kubectlMs: readonly number[],
  spans: readonly CollectedSpan[],
): PhaseResult {
  const byTrace = new Map<string, CollectedSpan[]>();
  for (const span of spans) {
    const list = byTrace.get(span.traceId) ?? [];
    list.push(span);
    byTrace.set(span.traceId, list);
  }
  const rows: Record<PhaseName, number>[] = [];
  for (const { spawnMs, exitMs } of samples) {
    const root = spans.find((s) => s.name === 'ssh.session' && s.startMs >= spawnMs && s.startMs <= exitMs);
    const row = root && phasesOf(byTrace.get(root.traceId)!, spawnMs, exitMs);
    if (row) rows.push(row);
  }
  const column = (name: PhaseName) => rows.map((r) => r[name]);
  const gatewaySummary = summarize(samples.map((s) => round(s.exitMs - s.spawnMs)));
  const kubectlSummary = summarize(kubectlMs);
  return {
    argv,
    runs,
    complete: rows.length,
    gateway_ms: gatewaySummary,
    kubectl_ms: kubectlSummary,
    exec_p50_ratio: round(gatewaySummary.p50 / kubectlSummary.p50, 3),
    phases_ms: Object.fromEntries(
      PHASES.map(([name, what]) => [
        name,
        { p50: summarize(column(name)).p50, mean: meanOf(column(name)), what },
      ]),
    ) as PhaseResult['phases_ms'],
    groups_ms: Object.fromEntries(
      Object.entries(PHASE_GROUPS).map(([group, names]) => {
        const sums = rows.map((r) => names.reduce((total, name) => total + r[name], 0));
        return [group, { p50: summarize(sums).p50, mean: meanOf(sums) }];
      }),
    ),
    samples: rows,
  };
}

/**
 * RUNS interleaved `exec -- true` runs each (after WARMUP) through a tier
 * pair exporting its spans here, then the pair is stopped (which flushes the
 * spans) and each gateway sample is joined to its trace. `nodeArgs` go to
 * both tiers (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 */
export async function benchPhases(
  clients: Clients,
  stack: BenchStack,
  stateDir: string,
  user: BenchUser,
  runs: number,
  warmup: number,
  nodeArgs: readonly string[] = [],
): Promise<PhaseResult> {
  const argv = BENCH_COMMANDS.noop;
  const collector = await startSpanCollector();
  const samples: { spawnMs: number; exitMs: number }[] = [];
  const kubectlMs: number[] = [];
  try {
    const pair = await startTierPair(
      stack,
      stateDir,
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '1000' },
      nodeArgs,
    );
    try {
      const gateway = clients.gatewayExec(user, argv, pair.sshPort);
      const kubectl = clients.kubectlExec(argv);
      for (let i = 0; i < warmup; i++) {
        await runChecked(...gateway);
        await runChecked(...kubectl);
      }
      for (let i = 0; i < runs; i++) {
        const timeGateway = async () => {
          const spawnMs = performance.timeOrigin + performance.now();
          const run = await runChecked(...gateway);
          samples.push({ spawnMs, exitMs: spawnMs + run.ms });
        };
        if (i % 2 === 0) {
          await timeGateway();
          kubectlMs.push(round((await runChecked(...kubectl)).ms));
        } else {
          kubectlMs.push(round((await runChecked(...kubectl)).ms));
          await timeGateway();
        }
      }
    } finally {
      await pair.stop(); // flushes the tiers' pending spans
    }
    return phaseResult(argv, runs, samples, kubectlMs, collector.spans());
  } finally {
    await collector.close();
  }
}
