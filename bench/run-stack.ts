/**
 * The parts of `npm run bench` (run.ts) that need the local stack: starts it
 * with a bench policy (bench-stack.ts), measures the gateway against kubectl
 * on the same cluster, then stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNSAFE_NO_AUDIT_FSYNC_ENV } from '../services/core/service/tier-trust.js';
import { benchAb } from './ab.bench.js';
import { type BenchStack, type BenchUser, startBenchStack, startTierPair } from './bench-stack.js';
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
import { benchModeration } from './moderation.bench.js';
import { benchPhases } from './phases.bench.js';
import type { MeasuredParts } from './run-details.js';
import { log, part } from './run-parts.js';
import { PARTS, PLAN, profileArgs, QUICK, SELECTED, want } from './run-plan.js';

/** What the stack's parts measured (undefined where a part did not run or failed), and the machine with its kubectl. */
export type StackParts = Pick<
  MeasuredParts,
  | 'memory'
  | 'latency'
  | 'stdout'
  | 'stdin'
  | 'forward'
  | 'sustained'
  | 'auditSessions'
  | 'phases'
  | 'moderation'
  | 'ab'
> & { machine: ReturnType<typeof machineInfo> | undefined };

type Errors = Record<string, string>;

/** The gateway-against-kubectl parts, on the stack's own tiers. */
async function gatewayParts(
  measured: StackParts,
  clients: Clients,
  stack: BenchStack,
  user: BenchUser,
  errors: Errors,
): Promise<void> {
  // Memory first, on a mediator that has served only a few warm-up sessions.
  if (want('memory'))
    measured.memory = await part('idle memory', errors, async () => {
      for (let i = 0; i < 3; i++) await benchExecLatency(clients, user, 1, 0);
      return benchIdleMemory(clients, stack, stack.users, PLAN.idleSessions);
    });
  if (want('latency'))
    measured.latency = await part('exec latency', errors, () =>
      benchExecLatency(clients, user, PLAN.latency.runs, PLAN.latency.warmup),
    );
  if (want('stdout'))
    measured.stdout = await part('stdout throughput', errors, () =>
      benchStdout(clients, user, PLAN.streamBytes, PLAN.streamRuns),
    );
  if (want('stdin'))
    measured.stdin = await part('stdin throughput', errors, () =>
      benchStdin(clients, user, PLAN.streamBytes, PLAN.streamRuns),
    );
  if (want('portforward'))
    measured.forward = await part('port-forward throughput', errors, () =>
      benchPortForward(clients, stack, user, PLAN.streamBytes, PLAN.streamRuns),
    );
  if (want('sustained'))
    measured.sustained = await part('sustained exec load', errors, () =>
      benchSustained(clients, stack.users, PLAN.load),
    );
}

/** Exec sessions/s through two extra tier pairs, audit fsync on and off. */
async function auditSessionsPart(clients: Clients, stack: BenchStack, stateDir: string) {
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
}

/** This build's tiers against AIRLOCK_BENCH_BASELINE_ROOT's, in alternating rounds. */
function abPart(clients: Clients, stack: BenchStack, stateDir: string) {
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
}

/** The parts that start tier pairs of their own beside the stack's. */
async function tierParts(
  measured: StackParts,
  clients: Clients,
  stack: BenchStack,
  stateDir: string,
  user: BenchUser,
  errors: Errors,
): Promise<void> {
  if (want('audit-sessions'))
    measured.auditSessions = await part('exec sessions/s, audit fsync on vs off', errors, () =>
      auditSessionsPart(clients, stack, stateDir),
    );
  if (want('phases'))
    measured.phases = await part('exec phase breakdown from spans', errors, () =>
      benchPhases(clients, stack, stateDir, user, PLAN.latency.runs, PLAN.latency.warmup, profileArgs()),
    );
  if (want('moderation'))
    measured.moderation = await part('moderated session with observers', errors, () =>
      benchModeration(clients, stack, stateDir, PLAN.streamBytes, PLAN.moderationRuns),
    );
  if (SELECTED.has('ab') && process.env.AIRLOCK_BENCH_PARTS)
    measured.ab = await part('before/after against AIRLOCK_BENCH_BASELINE_ROOT', errors, () =>
      abPart(clients, stack, stateDir),
    );
}

/** Runs the stack's parts that were asked for; starts no stack if none was. */
export async function runStackParts(errors: Errors): Promise<StackParts> {
  const measured: StackParts = {
    machine: undefined,
    memory: undefined,
    latency: undefined,
    stdout: undefined,
    stdin: undefined,
    forward: undefined,
    sustained: undefined,
    auditSessions: undefined,
    phases: undefined,
    moderation: undefined,
    ab: undefined,
  };
  if (!PARTS.slice(0, 10).some(want)) return measured;
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  const stack = await startBenchStack(stateDir, (line) => log(line), PLAN.users).catch((error: unknown) => {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  });
  measured.machine = machineInfo(stack.kubectl);
  log(`stack up: bench mediator pid ${stack.mediatorPid} on ssh port ${stack.sshPort}`);
  const clients = new Clients(stack);
  const user = stack.users[0]!;
  try {
    await gatewayParts(measured, clients, stack, user, errors);
    await tierParts(measured, clients, stack, stateDir, user, errors);
  } finally {
    log('stopping the stack');
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  return measured;
}
