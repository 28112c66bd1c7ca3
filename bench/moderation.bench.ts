/**
 * Four-eyes sessions under load (issue 24): one owner streams BYTES of
 * output (`head -c BYTES /dev/zero` through the gateway) while observers
 * watch the live session (`ssh -tt gw join ID`, observe mode). Recorded per
 * case, in rotated order: the owner's throughput, from its first output byte
 * to its last (the wait for the observers to join is not part of it), and
 * the mediator's CPU time per MiB.
 *
 * - `none`: the same exec from a certificate without moderation. A moderated
 *   session cannot run with no observer joined (`min` is at least 1), so
 *   this is the owner's throughput without a live session at all.
 * - `read1`, `read5`: 1 and 5 observers reading at full speed (the owner's
 *   certificate requires that many, so all are there before the first byte).
 * - `stall1`: 1 observer that never reads. It must not slow the owner and
 *   must be dropped: counted from the mediator's trail (`moderation.left`,
 *   why `dropped`), and its client must print OBSERVER_DROPPED once it
 *   reads again. Whether the owner's terminal showed `left (dropped)` is
 *   recorded apart: that notice is on the owner's stderr, which ssh2 loses
 *   while the owner's window is closed (README, Performance).
 *
 * Results are recorded, never asserted: a run in which an owner lost bytes
 * or an observer was not dropped is reported in the result, not hidden.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { type BenchStack, type BenchUser, EXEC_POD, issueBenchUser } from './bench-stack.js';
import { type Clients, cpuMs } from './gateway.bench.js';
import { runChecked } from './process-runner.js';
import { median, round, type Summary, summarize } from './stats.js';

const MIB = 1024 * 1024;
const OBSERVER_GROUP = 'bench-leads';
const CASES = ['none', 'read1', 'read5', 'stall1'] as const;
type CaseName = (typeof CASES)[number];

export interface ModerationBenchResult {
  bytes: number;
  runs: number;
  /** Owner MB/s per case, first byte to last. */
  owner_mb_s: Record<CaseName, Summary>;
  /** p50 of the case over p50 of `none`. */
  ratio_to_none: Record<CaseName, number>;
  /** Mediator CPU ms per MiB of owner output (median). */
  mediator_cpu_ms_per_mib: Record<CaseName, number>;
  /** What one more observer costs the mediator: (read5 − none) / 5, ms per MiB of owner output. */
  mediator_cpu_ms_per_mib_per_observer: number;
  /** CPU ms per MiB of one full-speed observer's own `ssh` client (median over the observers still there at the end). */
  observer_ssh_cpu_ms_per_mib: Record<'read1' | 'read5', number>;
  /**
   * Full-speed observers dropped anyway (the mediator's trail), over all
   * runs: ones that held the owner past their stall budget (output-fanout.ts).
   */
  readers_dropped: Record<'read1' | 'read5', number>;
  /**
   * Stalled observer: runs in which the trail records it dropped, in which
   * the owner's terminal showed it, and in which its own client printed
   * OBSERVER_DROPPED once it read again (with its exit codes).
   */
  stalled: {
    runs: number;
    dropped: number;
    owner_told: number;
    saw_message: number;
    exit_codes: (number | null)[];
  };
  /** Owner runs that ended short (bytes received), excluded from the samples. */
  short: { case: CaseName; received: number; code: number | null; stderr: string }[];
  samples: Record<CaseName, number[]>;
}

/**
 * How a spawned `ssh` treats its stdout: `count` (the owner: bytes and the
 * times of the first and last), `discard` (a full-speed observer: straight to
 * /dev/null, so no reader of ours can be the bottleneck), `stalled` (never
 * read until `resume()`, then kept as text).
 */
type StdoutMode = 'count' | 'discard' | 'stalled';

/** A running `ssh`; `text` is its stderr (and a resumed stalled client's stdout, zeros removed). */
interface Spawned {
  child: ChildProcess;
  resume: () => void;
  stdoutBytes: () => number;
  text: () => string;
  firstByteAt: () => bigint | undefined;
  lastByteAt: () => bigint | undefined;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<number | null>;
}

function start(argv: string[], mode: StdoutMode): Spawned {
  const devNull = mode === 'discard' ? openSync('/dev/null', 'w') : undefined;
  const child = spawn('ssh', argv, { stdio: ['pipe', devNull ?? 'pipe', 'pipe'] });
  if (devNull !== undefined) closeSync(devNull);
  let bytes = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let text = '';
  const listeners = new Set<() => void>();
  const onStdout = (chunk: Buffer) => {
    const now = process.hrtime.bigint();
    first ??= now;
    last = now;
    bytes += chunk.length;
    // The owner's 64 MiB of zeros are only counted; a stalled observer's tail is read as text.
    if (mode === 'stalled' && text.length < 64 * 1024) text += chunk.toString('latin1').replace(/\0/g, '');
    for (const l of [...listeners]) l();
  };
  if (mode === 'count') child.stdout!.on('data', onStdout);
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const l of [...listeners]) l();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    resume: () => {
      if (mode === 'stalled' && child.stdout!.listenerCount('data') === 0) child.stdout!.on('data', onStdout);
    },
    stdoutBytes: () => bytes,
    text: () => text,
    firstByteAt: () => first,
    lastByteAt: () => last,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms: ${text.slice(-400)}`));
        }, timeoutMs);
        const check = () => {
          if (!pattern.test(text)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
      }),
  };
}

interface Users {
  plain: BenchUser;
  owners: Record<1 | 5, BenchUser>;
  observers: BenchUser[];
}

function issueUsers(stateDir: string): Users {
  const owner = (min: number) =>
    issueBenchUser(stateDir, `mod-owner${min}`, {
      moderation: { requiredGroups: [OBSERVER_GROUP], min, mode: 'observe' },
    });
  return {
    plain: issueBenchUser(stateDir, 'mod-plain'),
    owners: { 1: owner(1), 5: owner(5) },
    // Six people: five readers and one stalled (a person joins a session once).
    observers: Array.from({ length: 6 }, (_, i) =>
      issueBenchUser(
        stateDir,
        `watch${i}`,
        { moderator: { groups: [OBSERVER_GROUP] } },
        { 'permit-pty': '' },
      ),
    ),
  };
}

async function sessionIdOf(clients: Clients, observer: BenchUser, owner: string): Promise<string> {
  const listed = await runChecked('ssh', [...clients.sshBase(observer), 'sessions']);
  const row = listed.stdout
    .toString()
    .split('\n')
    .find((line) => line.split(/\s+/)[1] === owner);
  if (!row) throw new Error(`no live session of ${owner} listed: ${listed.stdout.toString()}`);
  return row.split(/\s+/)[0]!;
}

interface RunOutcome {
  mbPerS: number | undefined;
  mediatorCpuMs: number;
  /** CPU ms of each full-speed observer's `ssh` still running when the owner finished. */
  observerCpuMs: number[];
  dropped: number;
  stalled?: { dropped: boolean; ownerTold: boolean; sawMessage: boolean; code: number | null };
  short?: { received: number; code: number | null; stderr: string };
}

/** One owner transfer with the case's observers; the observers are gone when it resolves. */
async function runCase(
  clients: Clients,
  stack: BenchStack,
  users: Users,
  name: CaseName,
  bytes: number,
): Promise<RunOutcome> {
  const owner = name === 'none' ? users.plain : users.owners[name === 'read5' ? 5 : 1];
  const cpuBefore = cpuMs(stack.mediatorPid);
  const ownerRun = start(
    [...clients.sshBase(owner), 'exec', EXEC_POD, '--', 'head', '-c', String(bytes), '/dev/zero'],
    'count',
  );
  const observers: Spawned[] = [];
  let id: string | undefined;
  try {
    if (name !== 'none') {
      await ownerRun.waitFor(/waiting for a moderator from/);
      id = await sessionIdOf(clients, users.observers[0]!, owner.name);
      const count = name === 'read5' ? 5 : 1;
      const stalled = name === 'stall1';
      for (let i = 0; i < count; i++) {
        const who = stalled ? users.observers[5]! : users.observers[i]!;
        observers.push(
          start([...clients.sshBase(who, ['-tt']), 'join', id], stalled ? 'stalled' : 'discard'),
        );
      }
    }
    const code = await ownerRun.exited;
    const mediatorCpuMs = cpuMs(stack.mediatorPid) - cpuBefore;
    const observerCpuMs = name === 'stall1' ? [] : observers.flatMap(runningCpuMs);
    const received = ownerRun.stdoutBytes();
    // OUTPUT_INCOMPLETE with every byte there counts (as in the stdout part); anything short does not.
    const complete = received === bytes && (code === 0 || /OUTPUT_INCOMPLETE/.test(ownerRun.text()));
    const first = ownerRun.firstByteAt();
    const last = ownerRun.lastByteAt();
    const mbPerS =
      complete && first !== undefined && last !== undefined && last > first
        ? round(bytes / MIB / (Number(last - first) / 1e9))
        : undefined;
    let stalledOutcome: RunOutcome['stalled'];
    if (name === 'stall1') {
      const ownerTold = /left \(dropped\)/.test(ownerRun.text());
      // Now read what the stalled client held back: the drop message arrives after the queued output.
      const watcher = observers[0]!;
      watcher.resume();
      const sawMessage = await watcher
        .waitFor(/OBSERVER_DROPPED/, 20_000)
        .then(() => true)
        .catch(() => false);
      const code = await Promise.race([watcher.exited, delay(5000, null)]);
      stalledOutcome = {
        dropped: id !== undefined && droppedInTrail(stack, id) > 0,
        ownerTold,
        sawMessage,
        code,
      };
    }
    return {
      mbPerS,
      mediatorCpuMs,
      observerCpuMs,
      dropped: id === undefined ? 0 : droppedInTrail(stack, id),
      ...(stalledOutcome ? { stalled: stalledOutcome } : {}),
      ...(complete ? {} : { short: { received, code, stderr: ownerRun.text().slice(-500) } }),
    };
  } finally {
    ownerRun.child.kill('SIGKILL');
    for (const o of observers) o.child.kill('SIGKILL');
    await Promise.all([ownerRun.exited, ...observers.map((o) => o.exited)]);
  }
}

/** The CPU time of a client still running (a dropped observer's `ssh` may be gone). */
function runningCpuMs(client: Spawned): number[] {
  if (client.child.exitCode !== null || client.child.pid === undefined) return [];
  try {
    return [cpuMs(client.child.pid)];
  } catch {
    return [];
  }
}

/** Observers of session `id` the mediator's trail records as dropped. */
function droppedInTrail(stack: BenchStack, id: string): number {
  return readFileSync(stack.mediatorAuditPath, 'utf8')
    .split('\n')
    .filter((line) => line.includes(id) && line.includes('moderation.left'))
    .map((line) => JSON.parse(line) as { event: string; session_id?: string; details?: { why?: string } })
    .filter((e) => e.event === 'moderation.left' && e.session_id === id && e.details?.why === 'dropped')
    .length;
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

/** A warm-up of each case, then RUNS of each in rotated order. */
export async function benchModeration(
  clients: Clients,
  stack: BenchStack,
  stateDir: string,
  bytes: number,
  runs: number,
): Promise<ModerationBenchResult> {
  const users = issueUsers(stateDir);
  for (const name of CASES) await runCase(clients, stack, users, name, Math.min(bytes, 4 * MIB));
  const samples = Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<CaseName, number[]>;
  const cpu = Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<CaseName, number[]>;
  const readersDropped: ModerationBenchResult['readers_dropped'] = { read1: 0, read5: 0 };
  const observerCpu: Record<'read1' | 'read5', number[]> = { read1: [], read5: [] };
  const stalled: ModerationBenchResult['stalled'] = {
    runs: 0,
    dropped: 0,
    owner_told: 0,
    saw_message: 0,
    exit_codes: [],
  };
  const short: ModerationBenchResult['short'] = [];
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < CASES.length; j++) {
      const name = CASES[(i + j) % CASES.length]!;
      const outcome = await runCase(clients, stack, users, name, bytes);
      if (outcome.mbPerS !== undefined) samples[name].push(outcome.mbPerS);
      cpu[name].push(outcome.mediatorCpuMs);
      if (name === 'read1' || name === 'read5') {
        readersDropped[name] += outcome.dropped;
        observerCpu[name].push(...outcome.observerCpuMs);
      }
      if (outcome.short) short.push({ case: name, ...outcome.short });
      if (outcome.stalled) {
        stalled.runs++;
        if (outcome.stalled.dropped) stalled.dropped++;
        if (outcome.stalled.ownerTold) stalled.owner_told++;
        if (outcome.stalled.sawMessage) stalled.saw_message++;
        stalled.exit_codes.push(outcome.stalled.code);
      }
    }
  }
  const summaries = Object.fromEntries(CASES.map((c) => [c, summarize(samples[c])])) as Record<
    CaseName,
    Summary
  >;
  const none = summaries.none.p50;
  const cpuPerMib = Object.fromEntries(
    CASES.map((c) => [c, round(median(cpu[c]) / (bytes / MIB), 3)]),
  ) as Record<CaseName, number>;
  return {
    bytes,
    runs,
    owner_mb_s: summaries,
    ratio_to_none: Object.fromEntries(CASES.map((c) => [c, round(summaries[c].p50 / none, 3)])) as Record<
      CaseName,
      number
    >,
    mediator_cpu_ms_per_mib: cpuPerMib,
    mediator_cpu_ms_per_mib_per_observer: round((cpuPerMib.read5 - cpuPerMib.none) / 5, 3),
    observer_ssh_cpu_ms_per_mib: {
      read1: round(median(observerCpu.read1) / (bytes / MIB), 3),
      read5: round(median(observerCpu.read5) / (bytes / MIB), 3),
    },
    readers_dropped: readersDropped,
    stalled,
    short,
    samples,
  };
}
