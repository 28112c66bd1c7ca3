/**
 * Throughput benchmarks of the gateway against kubectl: stdout, stdin and
 * port-forward, interleaved, whole-process time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_NAMESPACE } from '../services/cli/dev/dev-stack.js';
import {
  BENCH_COMMANDS,
  type BenchStack,
  type BenchUser,
  FORWARD_POD,
  FORWARD_PORT,
  stopChild,
} from './bench-stack.js';
import { type Clients, MIB } from './gateway-clients.js';
import { cpuMs } from './process-metrics.js';
import { runChecked, runProcess } from './process-runner.js';
import { median, round, type Summary, summarize } from './stats.js';

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
