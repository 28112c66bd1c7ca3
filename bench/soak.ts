/**
 * `npm run soak -- [--sessions N] [--duration D] [--think-ms MS]`: a long
 * run of many concurrent SSH sessions against the local stack, then a check
 * that nothing was lost. Not part of CI (docs/reliability.md).
 *
 * Each session is one real OpenSSH connection (a ControlMaster) held open for
 * the whole run; its commands are channels multiplexed over it, so a session
 * issues many intents, as a person's does. Each command is picked at random
 * from allowed and denied actions (ACTIONS). Afterwards:
 *
 * - zero unexpected outcomes: an allowed action exits 0 with its output, a
 *   denied one exits 77 with its code on stderr;
 * - every session in both trails: the mediator's and the executor's
 *   `session.opened` and `session.closed` name exactly the client's sessions;
 * - every intent in both trails, counted per session: the mediator records
 *   each allowed action as `intent.allowed` and each denied one as
 *   `intent.denied`; the executor records each allowed one as
 *   `intent.allowed` and never sees a denied one (the mediator refuses it
 *   first), so it has no `intent.denied` for these users;
 * - memory: RSS of the mediator and the executor, sampled every 5 s, grows
 *   less than 10 % from the end of warm-up (the first third of the run) to the
 *   end.
 *
 * Writes bench/results/soak-<UTC timestamp>.json and exits 1 if any check
 * failed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { type BenchStack, type BenchUser, EXEC_POD, startBenchStack, stopChild } from './bench-stack.js';
import { rssKiB } from './gateway.bench.js';
import { machineInfo } from './machine.js';
import { runProcess } from './process-runner.js';
import { median } from './stats.js';

interface Action {
  name: string;
  command: string[];
  allowed: boolean;
  /** What the client must see: exit status and a test of stdout/stderr. */
  expect: { code: number; stdout?: RegExp; stderr?: RegExp };
}

const DENIED_STDERR = /^airlock: (SCOPE_|COMMAND_|ACTION_NOT_ALLOWED|SHELL_NOT_ALLOWED)/m;

/** The bench profile (bench-stack.ts) allows `true`, `head -c * /dev/zero`, listing pods and logs. */
const ACTIONS: readonly Action[] = [
  { name: 'exec true', command: ['exec', EXEC_POD, '--', 'true'], allowed: true, expect: { code: 0 } },
  {
    name: 'exec head',
    command: ['exec', EXEC_POD, '--', 'head', '-c', '4096', '/dev/zero'],
    allowed: true,
    expect: { code: 0, stdout: /^\0{4096}$/ },
  },
  { name: 'pods', command: ['pods'], allowed: true, expect: { code: 0, stdout: /^payments-api-0 /m } },
  {
    name: 'logs',
    command: ['logs', 'payments-worker-0', '--tail', '2'],
    allowed: true,
    expect: { code: 0, stdout: /processed batch/ },
  },
  {
    name: 'exec cat /etc/shadow',
    command: ['exec', EXEC_POD, '--', 'cat', '/etc/shadow'],
    allowed: false,
    expect: { code: 77, stderr: DENIED_STDERR },
  },
  {
    name: 'exec sh -c id',
    command: ['exec', EXEC_POD, '--', 'sh', '-c', 'id'],
    allowed: false,
    expect: { code: 77, stderr: DENIED_STDERR },
  },
  {
    name: 'pods in another namespace',
    command: ['pods', '-n', 'billing'],
    allowed: false,
    expect: { code: 77, stderr: DENIED_STDERR },
  },
  { name: 'events', command: ['events'], allowed: false, expect: { code: 77, stderr: DENIED_STDERR } },
];

interface Options {
  sessions: number;
  durationMs: number;
  thinkMs: number;
}

/** `30`, `30s`, `3m` → milliseconds. */
function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text);
  if (!match) throw new Error(`--duration: expected seconds such as 180, 30s or 3m, got ${text}`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

const HELP = `Usage: npm run soak -- [--sessions N] [--duration D] [--think-ms MS]

Starts the local stack (hermetic cluster, executor, a load-sized mediator),
holds N concurrent SSH sessions (real OpenSSH, one ControlMaster each) for
D, each running random allowed and denied commands with up to MS of pause
between them, then checks the outcomes, both tiers' audit trails and the
tiers' memory. Writes bench/results/soak-<timestamp>.json; exit status 1 if
a check failed.

  --sessions N    concurrent sessions (default 200)
  --duration D    how long, e.g. 180, 30s, 3m (default 3m)
  --think-ms MS   maximum pause between a session's commands (default 1000)
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sessions: { type: 'string', default: '200' },
      duration: { type: 'string', default: '3m' },
      'think-ms': { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const sessions = Number(values.sessions);
  const thinkMs = Number(values['think-ms']);
  if (!Number.isInteger(sessions) || sessions < 1) throw new Error('--sessions: a positive integer');
  if (!Number.isInteger(thinkMs) || thinkMs < 0) throw new Error('--think-ms: a non-negative integer');
  return { sessions, durationMs: parseDuration(values.duration), thinkMs };
}

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

interface Outcome {
  action: string;
  allowed: boolean;
  ok: boolean;
  code: number | null;
  /** For unexpected outcomes only: what was seen. */
  stderr?: string;
}

interface SessionRun {
  user: string;
  outcomes: Outcome[];
  /** Set if the session could not be opened or broke. */
  error?: string;
}

function sshBase(stack: BenchStack, user: BenchUser, controlPath: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${stack.knownHostsPath}`,
    '-o',
    'IdentitiesOnly=yes',
    '-i',
    user.keyPath,
    '-p',
    String(stack.sshPort),
    '-o',
    `ControlPath=${controlPath}`,
  ];
}

/** Opens the session's master connection; resolves once its control socket exists. */
async function openMaster(stack: BenchStack, user: BenchUser, controlPath: string): Promise<ChildProcess> {
  const child = spawn(
    'ssh',
    [
      ...sshBase(stack, user, controlPath),
      '-o',
      'ControlMaster=yes',
      '-o',
      'ServerAliveInterval=0',
      '-N',
      `${user.name}@127.0.0.1`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(controlPath)) {
    if (child.exitCode !== null) throw new Error(`ssh master exited ${child.exitCode}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ssh master not ready in 60 s: ${stderr.trim()}`);
    }
    await sleep(50);
  }
  return child;
}

async function runSession(
  stack: BenchStack,
  user: BenchUser,
  controlPath: string,
  endAt: number,
  thinkMs: number,
): Promise<SessionRun> {
  const run: SessionRun = { user: user.name, outcomes: [] };
  while (Date.now() < endAt) {
    const action = ACTIONS[Math.floor(Math.random() * ACTIONS.length)]!;
    const result = await runProcess('ssh', [
      ...sshBase(stack, user, controlPath),
      '-o',
      'ControlMaster=no',
      `${user.name}@127.0.0.1`,
      ...action.command,
    ]);
    const stdout = result.stdout.toString('latin1');
    const stderr = result.stderr.toString();
    const ok =
      result.code === action.expect.code &&
      (action.expect.stdout?.test(stdout) ?? true) &&
      (action.expect.stderr?.test(stderr) ?? stderr === '');
    run.outcomes.push({
      action: action.name,
      allowed: action.allowed,
      ok,
      code: result.code,
      ...(ok ? {} : { stderr: stderr.slice(0, 500) }),
    });
    await sleep(Math.random() * thinkMs);
  }
  return run;
}

interface TrailEvent {
  type: string;
  event: string;
  session_id?: string;
  decision?: string;
  code?: string;
  actor?: { user?: string };
}

function readTrail(path: string, users: ReadonlySet<string>): TrailEvent[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TrailEvent)
    .filter((e) => e.type === 'event' && users.has(e.actor?.user ?? ''));
}

/** `event` records per session id. */
function perSession(events: readonly TrailEvent[], event: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.event !== event || !e.session_id) continue;
    counts.set(e.session_id, (counts.get(e.session_id) ?? 0) + 1);
  }
  return counts;
}

function sortedCounts(counts: Map<string, number>): number[] {
  return [...counts.values()].sort((a, b) => a - b);
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-soak-'));
  // Unix socket paths are short (108 bytes): the control sockets get their own short dir.
  const controlDir = mkdtempSync(join(tmpdir(), 'soak-'));
  log(`starting the stack for ${options.sessions} sessions`);
  const stack = await startBenchStack(stateDir, log, options.sessions);
  const tiers = { mediator: stack.mediatorPid, executor: stack.executorPid };
  const memory: { at_s: number; mediator_kib: number; executor_kib: number }[] = [];
  const masters: ChildProcess[] = [];
  const runs: SessionRun[] = [];
  const checks: Check[] = [];
  let trails: { mediator: TrailEvent[]; executor: TrailEvent[] } | undefined;
  const users = stack.users;
  try {
    // Open the sessions in batches: every client is 127.0.0.1, and the
    // mediator bounds unauthenticated connections per source address.
    log('opening sessions');
    const controlPaths = users.map((_, i) => join(controlDir, `c${i}`));
    const opened: (ChildProcess | Error)[] = [];
    for (let i = 0; i < users.length; i += 20) {
      const batch = await Promise.all(
        users
          .slice(i, i + 20)
          .map((user, j) => openMaster(stack, user, controlPaths[i + j]!).catch((e: unknown) => e as Error)),
      );
      opened.push(...batch);
    }
    for (const m of opened) if (!(m instanceof Error)) masters.push(m);
    const loadStartedAt = Date.now();
    const endAt = loadStartedAt + options.durationMs;
    log(`${masters.length} sessions open; running for ${options.durationMs / 1000} s`);
    const sampler = setInterval(() => {
      memory.push({
        at_s: Math.round((Date.now() - loadStartedAt) / 1000),
        mediator_kib: rssKiB(tiers.mediator),
        executor_kib: rssKiB(tiers.executor),
      });
    }, 5000);
    const results = await Promise.all(
      users.map((user, i) => {
        const master = opened[i]!;
        if (master instanceof Error)
          return Promise.resolve<SessionRun>({ user: user.name, outcomes: [], error: master.message });
        return runSession(stack, user, controlPaths[i]!, endAt, options.thinkMs);
      }),
    );
    clearInterval(sampler);
    runs.push(...results);
    log('closing sessions');
    await Promise.all(masters.map((m) => stopChild(m)));
    // CloseSession and the closing audit records follow the TCP close.
    await sleep(3000);
  } finally {
    for (const m of masters) if (m.exitCode === null) m.kill('SIGKILL');
    log('stopping the stack');
    await stack.stop();
    rmSync(controlDir, { recursive: true, force: true });
  }

  // The stack is stopped, so both trails are closed and complete on disk.
  const names = new Set(users.map((u) => u.name));
  const auditDir = join(stateDir, 'audit');
  const mediatorTrail = readdirSync(auditDir).find((f) => /^bench-mediator-.*\.jsonl$/.test(f));
  if (!mediatorTrail) throw new Error('no bench mediator audit trail');
  trails = {
    mediator: readTrail(join(auditDir, mediatorTrail), names),
    executor: readTrail(join(auditDir, 'executor.jsonl'), names),
  };

  const outcomes = runs.flatMap((r) => r.outcomes);
  const unexpected = outcomes.filter((o) => !o.ok);
  const sessionErrors = runs.filter((r) => r.error);
  const allowed = outcomes.filter((o) => o.allowed).length;
  const denied = outcomes.length - allowed;
  checks.push({
    name: 'every session opened',
    ok: sessionErrors.length === 0,
    detail: `${runs.length - sessionErrors.length} of ${runs.length}${sessionErrors[0] ? `; first error: ${sessionErrors[0].error}` : ''}`,
  });
  checks.push({
    name: 'zero unexpected outcomes',
    ok: unexpected.length === 0 && outcomes.length > 0,
    detail: `${unexpected.length} unexpected of ${outcomes.length} commands`,
  });

  const count = (events: TrailEvent[], event: string) => events.filter((e) => e.event === event).length;
  const sessions = runs.length - sessionErrors.length;
  for (const tier of ['mediator', 'executor'] as const) {
    const events = trails[tier];
    const opened = count(events, 'session.opened');
    const closed = count(events, 'session.closed');
    checks.push({
      name: `${tier}: every session opened and closed in the trail`,
      ok: opened === sessions && closed === sessions,
      detail: `client ${sessions}; session.opened ${opened}, session.closed ${closed}`,
    });
    const allowedInTrail = count(events, 'intent.allowed');
    checks.push({
      name: `${tier}: every allowed intent in the trail`,
      ok: allowedInTrail === allowed,
      detail: `client ${allowed}; intent.allowed ${allowedInTrail}`,
    });
  }
  const mediatorDenied = count(trails.mediator, 'intent.denied');
  const executorDenied = count(trails.executor, 'intent.denied');
  checks.push({
    name: 'mediator: every denied intent in the trail; the executor saw none',
    ok: mediatorDenied === denied && executorDenied === 0,
    detail: `client ${denied}; mediator intent.denied ${mediatorDenied}, executor intent.denied ${executorDenied}`,
  });
  // Per session: the same session ids, and the same number of allowed intents each, in both tiers.
  const mediatorPer = perSession(trails.mediator, 'intent.allowed');
  const executorPer = perSession(trails.executor, 'intent.allowed');
  const mediatorIds = new Set(
    trails.mediator.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const executorIds = new Set(
    trails.executor.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const sameIds =
    mediatorIds.size === executorIds.size && [...mediatorIds].every((id) => executorIds.has(id));
  const mismatched = [...mediatorPer].filter(([id, n]) => executorPer.get(id) !== n).length;
  checks.push({
    name: 'both trails: the same sessions, each with the same number of allowed intents',
    ok: sameIds && mismatched === 0 && mediatorPer.size === executorPer.size,
    detail: `${mediatorIds.size} session ids in the mediator, ${executorIds.size} in the executor; ${mismatched} sessions with differing counts`,
  });
  const clientPer = runs.map((r) => r.outcomes.filter((o) => o.allowed).length).filter((n) => n > 0);
  checks.push({
    name: 'per session: the client’s allowed counts match the trail’s',
    ok: JSON.stringify(clientPer.sort((a, b) => a - b)) === JSON.stringify(sortedCounts(mediatorPer)),
    detail: `${clientPer.length} sessions with allowed commands`,
  });

  // Memory: from the end of warm-up (a third of the run) to the end.
  const warm = memory.filter((m) => m.at_s * 1000 >= options.durationMs / 3);
  const growth: Record<string, number | null> = {};
  for (const tier of ['mediator', 'executor'] as const) {
    const key = `${tier}_kib` as const;
    if (warm.length < 4) {
      growth[tier] = null;
      continue;
    }
    const start = median(warm.slice(0, 3).map((m) => m[key]));
    const end = median(warm.slice(-3).map((m) => m[key]));
    growth[tier] = Math.round(((end - start) / start) * 1000) / 10;
  }
  for (const tier of ['mediator', 'executor'] as const) {
    const g = growth[tier];
    checks.push({
      name: `${tier}: RSS grows less than 10 % after warm-up`,
      ok: g !== null && g !== undefined && g < 10,
      detail: g === null ? 'too few samples (run longer than 30 s)' : `${g} %`,
    });
  }

  const byAction: Record<string, { runs: number; unexpected: number }> = {};
  for (const o of outcomes) {
    const entry = byAction[o.action] ?? { runs: 0, unexpected: 0 };
    byAction[o.action] = entry;
    entry.runs++;
    if (!o.ok) entry.unexpected++;
  }
  const results = {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    command: `npm run soak -- --sessions ${options.sessions} --duration ${options.durationMs / 1000}s --think-ms ${options.thinkMs}`,
    machine: machineInfo(),
    options: { sessions: options.sessions, duration_s: options.durationMs / 1000, think_ms: options.thinkMs },
    commands: { total: outcomes.length, allowed, denied, by_action: byAction },
    unexpected: unexpected.slice(0, 20),
    memory_growth_percent: growth,
    memory_samples: memory,
    checks,
    passed: checks.every((c) => c.ok),
  };
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `soak-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  rmSync(stateDir, { recursive: true, force: true });
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  process.stdout.write(`results: ${path}\n`);
  process.exitCode = results.passed ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
