/**
 * One soak session: a real OpenSSH ControlMaster connection, and the mix of
 * allowed and denied actions it runs through it until the end of the run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchStack, type BenchUser, EXEC_POD } from './bench-stack.js';
import { runProcess } from './process-runner.js';

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

interface Outcome {
  action: string;
  allowed: boolean;
  ok: boolean;
  code: number | null;
  /** For unexpected outcomes only: what was seen. */
  stderr?: string;
}

export interface SessionRun {
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
export async function openMaster(
  stack: BenchStack,
  user: BenchUser,
  controlPath: string,
): Promise<ChildProcess> {
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

export async function runSession(
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
