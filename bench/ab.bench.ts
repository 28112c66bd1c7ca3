/**
 * Before/after: the same measurements through two mediator+executor pairs
 * started from two builds of airlock, this checkout ("new") and another
 * built checkout ("old", AIRLOCK_BENCH_BASELINE_ROOT), in alternating rounds
 * so that drift on a shared machine hits both alike. Same cluster, policy,
 * credentials and clients; only the tiers' code differs. First exec `true`
 * latency, one run per side at a time; then per round stdout and stdin MB/s
 * with each tier's CPU ms per MiB, and exec sessions/s at concurrency 10 with
 * CPU ms per session. Check the harness with an A/A run (this checkout as its
 * own baseline): on a shared machine, stream CPU ms/MiB in particular moves
 * with the load, since a busier loop batches more per write.
 */
import {
  BENCH_COMMANDS,
  type BenchStack,
  type BenchUser,
  startTierPair,
  type TierPair,
} from './bench-stack.js';
import { type Clients, cpuMs, load, type OutputFlags, stdoutRun } from './gateway.bench.js';
import { runChecked } from './process-runner.js';
import { median, round, summarize } from './stats.js';

const MIB = 1024 * 1024;

type Side = 'old' | 'new';

interface SideSamples {
  exec_ms: number[];
  stdout_mb_s: number[];
  stdin_mb_s: number[];
  stdout_cpu_ms_per_mib: { mediator: number[]; executor: number[] };
  stdin_cpu_ms_per_mib: { mediator: number[]; executor: number[] };
  sessions_per_s: number[];
  session_cpu_ms: { mediator: number[]; executor: number[] };
  output_incomplete: OutputFlags;
}

export interface AbResult {
  baseline_root: string;
  rounds: number;
  stream_bytes: number;
  /** Per side, p50 over rounds (latency: over every run). */
  summary: Record<Side, Record<string, number>>;
  samples: Record<Side, SideSamples>;
}

function emptySamples(): SideSamples {
  return {
    exec_ms: [],
    stdout_mb_s: [],
    stdin_mb_s: [],
    stdout_cpu_ms_per_mib: { mediator: [], executor: [] },
    stdin_cpu_ms_per_mib: { mediator: [], executor: [] },
    sessions_per_s: [],
    session_cpu_ms: { mediator: [], executor: [] },
    output_incomplete: { complete: 0, short: 0, received: [] },
  };
}

/** Runs `fn`, adding each tier's CPU ms (divided by `per`) to `into`. */
async function withCpu<T>(
  pair: TierPair,
  per: number,
  into: { mediator: number[]; executor: number[] },
  fn: () => Promise<T>,
): Promise<T> {
  const before = { mediator: cpuMs(pair.mediatorPid), executor: cpuMs(pair.executorPid) };
  const result = await fn();
  into.mediator.push(round((cpuMs(pair.mediatorPid) - before.mediator) / per, 3));
  into.executor.push(round((cpuMs(pair.executorPid) - before.executor) / per, 3));
  return result;
}

async function round1(
  clients: Clients,
  users: readonly BenchUser[],
  pair: TierPair,
  s: SideSamples,
  streamBytes: number,
): Promise<void> {
  const user = users[0]!;
  const [ssh, stdoutArgs] = clients.gatewayExec(user, BENCH_COMMANDS.stdout(streamBytes), pair.sshPort);
  // OUTPUT_INCOMPLETE with every byte is a sample; one that lost bytes is not (counted in `flags`).
  const ms = await withCpu(pair, streamBytes / MIB, s.stdout_cpu_ms_per_mib, () =>
    stdoutRun([ssh, stdoutArgs], streamBytes, s.output_incomplete),
  );
  if (!Number.isNaN(ms)) s.stdout_mb_s.push(round(streamBytes / MIB / (ms / 1000)));
  const chunk = Buffer.alloc(MIB, 0x62);
  const stdinArgs = clients.gatewayExec(user, BENCH_COMMANDS.stdin, pair.sshPort)[1];
  const inRun = await withCpu(pair, streamBytes / MIB, s.stdin_cpu_ms_per_mib, () =>
    runChecked(ssh, stdinArgs, { stdin: chunk, stdinRepeat: streamBytes / MIB }),
  );
  if (Number(inRun.stdout.toString().trim()) !== streamBytes) throw new Error('stdin: short count');
  s.stdin_mb_s.push(round(streamBytes / MIB / (inRun.ms / 1000)));
  const level = await load(
    10,
    30,
    (i) => clients.gatewayExec(users[i % users.length]!, BENCH_COMMANDS.noop, pair.sshPort),
    { mediator: pair.mediatorPid, executor: pair.executorPid },
  );
  if (level.errors > 0) throw new Error(`${level.errors} sessions failed`);
  s.sessions_per_s.push(level.sessions_per_s);
  s.session_cpu_ms.mediator.push(level.cpu_ms_per_session.mediator!);
  s.session_cpu_ms.executor.push(level.cpu_ms_per_session.executor!);
}

function summaryOf(s: SideSamples): Record<string, number> {
  return {
    exec_ms_p50: summarize(s.exec_ms).p50,
    stdout_mb_s_p50: median(s.stdout_mb_s),
    stdout_mediator_cpu_ms_per_mib: median(s.stdout_cpu_ms_per_mib.mediator),
    stdout_executor_cpu_ms_per_mib: median(s.stdout_cpu_ms_per_mib.executor),
    stdin_mb_s_p50: median(s.stdin_mb_s),
    stdin_mediator_cpu_ms_per_mib: median(s.stdin_cpu_ms_per_mib.mediator),
    stdin_executor_cpu_ms_per_mib: median(s.stdin_cpu_ms_per_mib.executor),
    sessions_per_s_p50: median(s.sessions_per_s),
    session_mediator_cpu_ms: median(s.session_cpu_ms.mediator),
    session_executor_cpu_ms: median(s.session_cpu_ms.executor),
  };
}

/** ROUNDS alternating rounds through an old-build pair and a new-build pair. */
export async function benchAb(
  clients: Clients,
  stack: BenchStack,
  stateDir: string,
  users: readonly BenchUser[],
  baselineRoot: string,
  rounds: number,
  streamBytes: number,
  latencyRuns: number,
): Promise<AbResult> {
  const pairs: Partial<Record<Side, TierPair>> = {};
  try {
    pairs.old = await startTierPair(stack, stateDir, {}, [], baselineRoot);
    pairs.new = await startTierPair(stack, stateDir);
    const samples: Record<Side, SideSamples> = { old: emptySamples(), new: emptySamples() };
    const warm = emptySamples();
    for (const side of ['old', 'new'] as const) await round1(clients, users, pairs[side]!, warm, 4 * MIB);
    // Latency first, one run at a time alternating sides (the order flips every
    // run), so that bursts of load from elsewhere hit both sides alike.
    for (let i = 0; i < latencyRuns; i++) {
      const order: Side[] = i % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
      for (const side of order) {
        const run = await runChecked(
          ...clients.gatewayExec(users[0]!, BENCH_COMMANDS.noop, pairs[side]!.sshPort),
        );
        samples[side].exec_ms.push(round(run.ms));
      }
    }
    for (let r = 0; r < rounds; r++) {
      const order: Side[] = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
      for (const side of order) await round1(clients, users, pairs[side]!, samples[side], streamBytes);
    }
    return {
      baseline_root: baselineRoot,
      rounds,
      stream_bytes: streamBytes,
      summary: { old: summaryOf(samples.old), new: summaryOf(samples.new) },
      samples,
    };
  } finally {
    await pairs.old?.stop();
    await pairs.new?.stop();
  }
}
