/**
 * Fault injection on `startDevStack`: the real executor and mediator child
 * processes, a real OpenSSH client, and the stack's own hermetic cluster.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevStack, startDevStack } from '../../../services/cli/dev/dev-stack.js';
import { processes } from './adversarial.js';

const repo = join(import.meta.dirname, '..', '..', '..');

/**
 * docs/policy.example.json plus one long-running command for the on-call
 * profile (the demo policy allows nothing that runs for long), so a process
 * stays alive in the pod while a tier is killed under it.
 */
function policyWithSleep(dir: string): string {
  const policy = JSON.parse(readFileSync(join(repo, 'docs', 'policy.example.json'), 'utf8')) as {
    $schema?: string;
    profiles: { 'oncall-debug': { commands: { allow: { id?: string; argv: string[] }[] } } };
  };
  delete policy.$schema;
  policy.profiles['oncall-debug'].commands.allow.push({ id: 'sleep', argv: ['sleep', '*'] });
  const path = join(dir, 'policy.json');
  writeFileSync(path, JSON.stringify(policy));
  return path;
}

/** The stack's own child whose command line runs `dist/services/<tier>/main.js`. */
export function tierPid(stack: DevStack, tier: 'executor' | 'mediator'): number {
  const found = processes().find(
    (p) => stack.pids.includes(p.pid) && p.cmdline.includes(join('services', tier, 'main.js')),
  );
  if (!found) throw new Error(`no ${tier} process among ${stack.pids.join(', ')}`);
  return found.pid;
}

/**
 * Pids of processes with exactly this argv running inside this stack's pod
 * directories (the fake kubelet runs exec argv as a local process with the
 * pod's directory as its working directory).
 */
export function podProcesses(stack: DevStack, argv: string[]): number[] {
  return processes()
    .filter((p) => {
      if (p.cmdline !== argv.join(' ')) return false;
      try {
        return readlinkSync(`/proc/${p.pid}/cwd`).startsWith(stack.cluster.kubeletStateDir);
      } catch {
        return false;
      }
    })
    .map((p) => p.pid);
}

export { waitFor } from '../../support/wait.js';

/**
 * When the kube-apiserver recorded the end (audit stage ResponseComplete) of
 * this stack's pods/exec request for `argv`, or undefined. For a streaming
 * request the apiserver writes ResponseComplete when the connection closes.
 */
export function execCompletedAt(stack: DevStack, argv: string[]): number | undefined {
  const query = argv.map((a) => `command=${encodeURIComponent(a)}`).join('&');
  for (const line of readFileSync(stack.cluster.auditLogPath, 'utf8').split('\n')) {
    if (!line.includes('"ResponseComplete"') || !line.includes('/exec?')) continue;
    const event = JSON.parse(line) as { stage: string; requestURI: string; stageTimestamp: string };
    if (event.requestURI.includes(query)) return Date.parse(event.stageTimestamp);
  }
  return undefined;
}

export interface SshRun {
  done: Promise<{ code: number | null; stdout: string; stderr: string; endedAt: number }>;
}

/** The on-call demo user's `ssh … exec payments-api-0 -- <argv>`, as a real OpenSSH client process. */
export function sshExec(stack: DevStack, argv: string[]): SshRun {
  return sshCommand(stack, ['exec', 'payments-api-0', '--', ...argv]);
}

/**
 * The on-call demo user's `ssh … <command words>`, as a real OpenSSH client
 * process with stdin kept open (a person at a terminal). Killed after 60 s.
 */
export function sshCommand(stack: DevStack, command: string[]): SshRun {
  const child = spawn(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-p',
      String(stack.sshPort),
      '-i',
      stack.users.oncall!.keyPath,
      '-o',
      `UserKnownHostsFile=${stack.knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      'oncall@127.0.0.1',
      ...command,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return {
    done: new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, endedAt: Date.now() });
      }),
    ),
  };
}

/**
 * Runs `test` against a fresh dev stack and stops it. Afterwards it ends the
 * test's own exec processes left in the pod (`leftovers`, matched by argv and
 * the stack's pod directory): neither the fake kubelet nor a real one ends
 * an exec'd process when its stream closes, and the fake kubelet's
 * shutdown kills only container processes.
 */
export async function withDevStack(
  leftovers: string[],
  test: (stack: DevStack) => Promise<void>,
): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-fault-'));
  const stack = await startDevStack(stateDir, () => {}, { policyPath: policyWithSleep(stateDir) });
  try {
    await test(stack);
  } finally {
    for (const pid of podProcesses(stack, leftovers)) process.kill(pid, 'SIGKILL');
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
