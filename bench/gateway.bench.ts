/**
 * Whole-process benchmarks of the gateway against the hermetic cluster's own
 * kubectl as the baseline, both run here, interleaved, on the same machine:
 * exec latency, stdout/stdin/port-forward throughput, sustained exec load and
 * the mediator's memory per idle authenticated session.
 *
 * Every gateway sample is a real `ssh` process through the mediator and the
 * executor; every baseline sample a real `kubectl` process against the same
 * kube-apiserver and fake kubelet. Results are recorded, never asserted.
 */
import { BENCH_COMMANDS, type BenchUser } from './bench-stack.js';
import type { Clients } from './gateway-clients.js';
import { runChecked } from './process-runner.js';
import { round, type Summary, summarize } from './stats.js';

export { Clients } from './gateway-clients.js';
export {
  type AuditSessionLevel,
  type AuditSessionsResult,
  benchAuditSessions,
  benchIdleMemory,
  benchSustained,
  type LoadLevel,
  load,
  type MemoryResult,
  type PairTarget,
  type SustainedResult,
} from './gateway-load.js';
export {
  benchPortForward,
  benchStdin,
  benchStdout,
  type OutputFlags,
  stdoutRun,
  type ThroughputResult,
} from './gateway-throughput.js';
export { cpuMs, rssKiB } from './process-metrics.js';

export interface ExecLatencyResult {
  argv: readonly string[];
  warmup: number;
  gateway_ms: Summary;
  kubectl_ms: Summary;
  /** `ssh … whoami`: the gateway's fixed cost without a Kubernetes call. */
  gateway_whoami_ms: Summary;
  exec_p50_ratio: number;
  samples: { gateway_ms: number[]; kubectl_ms: number[]; gateway_whoami_ms: number[] };
}

/**
 * N interleaved `exec -- true` runs each, after a warm-up. A third series,
 * `ssh … whoami`, is the gateway without any Kubernetes call (SSH handshake,
 * certificate checks, session grant and executor session): the difference to
 * the exec series is what the exec itself costs through the gateway.
 */
export async function benchExecLatency(
  clients: Clients,
  user: BenchUser,
  runs: number,
  warmup: number,
): Promise<ExecLatencyResult> {
  const argv = BENCH_COMMANDS.noop;
  const gateway = clients.gatewayExec(user, argv);
  const kubectl = clients.kubectlExec(argv);
  const whoami: [string, string[]] = ['ssh', [...clients.sshBase(user), 'whoami']];
  const series = [gateway, kubectl, whoami];
  for (let i = 0; i < warmup; i++) for (const cmd of series) await runChecked(...cmd);
  const samples = new Map<[string, string[]], number[]>(series.map((cmd) => [cmd, []]));
  for (let i = 0; i < runs; i++) {
    // Rotate which goes first so drift on a shared machine hits every series alike.
    for (let j = 0; j < series.length; j++) {
      const cmd = series[(i + j) % series.length]!;
      const run = await runChecked(...cmd);
      samples.get(cmd)!.push(round(run.ms));
    }
  }
  const g = samples.get(gateway)!;
  const k = samples.get(kubectl)!;
  const w = samples.get(whoami)!;
  const gs = summarize(g);
  const ks = summarize(k);
  return {
    argv,
    warmup,
    gateway_ms: gs,
    kubectl_ms: ks,
    gateway_whoami_ms: summarize(w),
    exec_p50_ratio: round(gs.p50 / ks.p50, 3),
    samples: { gateway_ms: g, kubectl_ms: k, gateway_whoami_ms: w },
  };
}
