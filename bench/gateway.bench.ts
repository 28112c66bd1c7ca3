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
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_NAMESPACE } from '../services/cli/dev/dev-stack.js';
import {
  BENCH_COMMANDS,
  type BenchStack,
  type BenchUser,
  EXEC_POD,
  FORWARD_POD,
  FORWARD_PORT,
  stopChild,
} from './bench-stack.js';
import { type ProcessRun, runChecked, runProcess } from './process-runner.js';
import { median, round, type Summary, summarize } from './stats.js';

const MIB = 1024 * 1024;

/** The two ways of running the same thing: through the gateway and straight with kubectl. */
export class Clients {
  /** The gateway's own processes, whose CPU time the throughput benchmarks record. */
  readonly tierPids: Record<string, number>;

  constructor(private readonly stack: BenchStack) {
    this.tierPids = { mediator: stack.mediatorPid, executor: stack.executorPid };
  }

  /** ssh arguments for USER against the bench mediator, or the mediator listening on `port`. */
  sshBase(user: BenchUser, extra: readonly string[] = [], port = this.stack.sshPort): string[] {
    return [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${this.stack.knownHostsPath}`,
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      user.keyPath,
      '-p',
      String(port),
      ...extra,
      `${user.name}@127.0.0.1`,
    ];
  }

  gatewayExec(user: BenchUser, argv: readonly string[], port?: number): [string, string[]] {
    return ['ssh', [...this.sshBase(user, [], port), 'exec', EXEC_POD, '--', ...argv]];
  }

  kubectlExec(argv: readonly string[], stdin = false): [string, string[]] {
    return [
      this.stack.kubectl,
      [
        '--kubeconfig',
        this.stack.adminKubeconfig,
        'exec',
        ...(stdin ? ['-i'] : []),
        '-n',
        DEMO_NAMESPACE,
        EXEC_POD,
        '--',
        ...argv,
      ],
    ];
  }
}

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

export interface ThroughputResult {
  what: string;
  bytes: number;
  runs: number;
  gateway_mb_s: Summary;
  kubectl_mb_s: Summary;
  ratio: number;
  /** CPU time the gateway's own tiers spent per MiB moved (median over the gateway samples). */
  gateway_cpu_ms_per_mib: Record<string, number>;
  samples: { gateway_mb_s: number[]; kubectl_mb_s: number[] };
  /** Port-forward only: connections that ended before all bytes arrived (excluded from the MB/s samples). */
  short_transfers?: Record<'gateway' | 'kubectl', { count: number; received: number[] }>;
  /** Stdout only: gateway runs that ended with OUTPUT_INCOMPLETE (see {@link OutputFlags}). */
  output_incomplete?: OutputFlags;
}

/**
 * Gateway stdout runs the executor could not vouch for (OUTPUT_INCOMPLETE,
 * exit 69, docs/executor.md): `complete` had every byte anyway (its time is
 * a sample), `short` really lost the tail (no sample).
 */
export interface OutputFlags {
  complete: number;
  short: number;
  received: number[];
}

/**
 * Runs a stdout transfer of BYTES and returns its wall time in ms, or NaN
 * when the gateway reported OUTPUT_INCOMPLETE and bytes were missing.
 */
export async function stdoutRun(cmd: [string, string[]], bytes: number, flags: OutputFlags): Promise<number> {
  const run = await runProcess(cmd[0], cmd[1], { keepStdout: false });
  const incomplete = run.code === 69 && run.stderr.toString().includes('OUTPUT_INCOMPLETE');
  if (run.code !== 0 && !incomplete)
    throw new Error(`${cmd[0]} ${cmd[1].join(' ')} exited ${run.code}: ${run.stderr.toString().slice(-500)}`);
  if (incomplete) {
    if (run.stdoutBytes === bytes) flags.complete++;
    else {
      flags.short++;
      flags.received.push(run.stdoutBytes);
      return Number.NaN;
    }
  } else if (run.stdoutBytes !== bytes) throw new Error(`stdout: got ${run.stdoutBytes} of ${bytes} bytes`);
  return run.ms;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process, in milliseconds (proc(5), /proc/<pid>/stat fields 14 and 15). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function mbPerSecond(bytes: number, ms: number): number {
  return round(bytes / MIB / (ms / 1000));
}

interface Interleaved {
  g: number[];
  k: number[];
  cpu: Record<string, number[]>;
}

function throughputResult(what: string, bytes: number, { g, k, cpu }: Interleaved): ThroughputResult {
  const gs = summarize(g);
  const ks = summarize(k);
  return {
    what,
    bytes,
    runs: g.length,
    gateway_mb_s: gs,
    kubectl_mb_s: ks,
    ratio: round(gs.p50 / ks.p50, 3),
    gateway_cpu_ms_per_mib: Object.fromEntries(
      Object.entries(cpu).map(([tier, samples]) => [tier, round(median(samples) / (bytes / MIB), 3)]),
    ),
    samples: { gateway_mb_s: g, kubectl_mb_s: k },
  };
}

/** One warm-up each, then RUNS samples each, alternating which side goes first. */
async function interleave(
  runs: number,
  tierPids: Record<string, number>,
  gateway: () => Promise<number>,
  kubectl: () => Promise<number>,
): Promise<Interleaved> {
  await gateway();
  await kubectl();
  const g: number[] = [];
  const k: number[] = [];
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(tierPids).map((t) => [t, []]));
  const measuredGateway = async () => {
    const before = Object.entries(tierPids).map(([tier, pid]) => [tier, cpuMs(pid)] as const);
    const value = await gateway();
    for (const [tier, ms] of before) cpu[tier]!.push(cpuMs(tierPids[tier]!) - ms);
    g.push(value);
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      await measuredGateway();
      k.push(await kubectl());
    } else {
      k.push(await kubectl());
      await measuredGateway();
    }
  }
  return { g, k, cpu };
}

/** `head -c BYTES /dev/zero` in the pod, stdout counted by this process; whole-process time. */
export async function benchStdout(
  clients: Clients,
  user: BenchUser,
  bytes: number,
  runs: number,
): Promise<ThroughputResult> {
  const argv = BENCH_COMMANDS.stdout(bytes);
  const flags: OutputFlags = { complete: 0, short: 0, received: [] };
  const kubectlFlags: OutputFlags = { complete: 0, short: 0, received: [] };
  const once = async (cmd: [string, string[]], f: OutputFlags) =>
    mbPerSecond(bytes, await stdoutRun(cmd, bytes, f));
  const samples = await interleave(
    runs,
    clients.tierPids,
    () => once(clients.gatewayExec(user, argv), flags),
    () => once(clients.kubectlExec(argv), kubectlFlags),
  );
  const complete = (values: number[]) => values.filter((v) => !Number.isNaN(v));
  return {
    ...throughputResult(`exec stdout: ${argv.join(' ')}`, bytes, { ...samples, g: complete(samples.g) }),
    output_incomplete: flags,
  };
}

/** BYTES written to `wc -c` in the pod, which must count them all; whole-process time. */
export async function benchStdin(
  clients: Clients,
  user: BenchUser,
  bytes: number,
  runs: number,
): Promise<ThroughputResult> {
  const argv = BENCH_COMMANDS.stdin;
  const chunk = Buffer.alloc(MIB, 0x62);
  const once = async (cmd: [string, string[]]) => {
    const run = await runChecked(cmd[0], cmd[1], { stdin: chunk, stdinRepeat: bytes / MIB });
    const counted = Number(run.stdout.toString().trim());
    if (counted !== bytes) throw new Error(`stdin: the pod counted ${counted} of ${bytes} bytes`);
    return mbPerSecond(bytes, run.ms);
  };
  const samples = await interleave(
    runs,
    clients.tierPids,
    () => once(clients.gatewayExec(user, argv)),
    () => once(clients.kubectlExec(argv, true)),
  );
  return throughputResult(`exec stdin: ${argv.join(' ')}`, bytes, samples);
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Connects, asks the TCP source for BYTES, reads to EOF; MB/s of that one
 * connection, or NaN (counted in `short`) when the stream ended early.
 */
function pull(port: number, bytes: number, short: { count: number; received: number[] }): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let received = 0;
    const socket = connect(port, '127.0.0.1', () => socket.write(`${bytes}\n`));
    socket.on('data', (d: Buffer) => {
      received += d.length;
    });
    socket.once('error', reject);
    socket.once('close', () => {
      if (received === bytes) resolve(mbPerSecond(bytes, Number(process.hrtime.bigint() - start) / 1e6));
      else {
        short.count++;
        short.received.push(received);
        resolve(Number.NaN);
      }
    });
  });
}

async function waitForListener(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} never listened on ${port}`);
}

/**
 * One long-lived forwarder each (`ssh -N -L` and `kubectl port-forward`);
 * each sample is a fresh TCP connection through it pulling BYTES.
 */
export async function benchPortForward(
  clients: Clients,
  stack: BenchStack,
  user: BenchUser,
  bytes: number,
  runs: number,
): Promise<ThroughputResult> {
  const gPort = await freeLocalPort();
  const kPort = await freeLocalPort();
  const ssh = spawn(
    'ssh',
    clients.sshBase(user, [
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-L',
      `127.0.0.1:${gPort}:${FORWARD_POD}.${DEMO_NAMESPACE}:${FORWARD_PORT}`,
    ]),
    { stdio: 'ignore' },
  );
  const kubectl = spawn(
    stack.kubectl,
    [
      '--kubeconfig',
      stack.adminKubeconfig,
      'port-forward',
      '-n',
      DEMO_NAMESPACE,
      `pod/${FORWARD_POD}`,
      `${kPort}:${FORWARD_PORT}`,
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitForListener(gPort, ssh, 'ssh -L');
    await waitForListener(kPort, kubectl, 'kubectl port-forward');
    const short = { gateway: { count: 0, received: [] }, kubectl: { count: 0, received: [] } };
    const samples = await interleave(
      runs,
      clients.tierPids,
      () => pull(gPort, bytes, short.gateway),
      () => pull(kPort, bytes, short.kubectl),
    );
    const complete = (values: number[]) => values.filter((v) => !Number.isNaN(v));
    return {
      ...throughputResult(
        `port-forward to ${FORWARD_POD}:${FORWARD_PORT}, one connection per sample`,
        bytes,
        { ...samples, g: complete(samples.g), k: complete(samples.k) },
      ),
      short_transfers: short,
    };
  } finally {
    await stopChild(ssh);
    await stopChild(kubectl);
  }
}

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

export function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? Number.NaN);
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
