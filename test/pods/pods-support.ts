import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { issueThroughBroker } from '../../services/cli/dev/dev-stack.js';
import type { PodsStack } from '../../services/cli/dev/pods/pods-stack.js';

/** What a command did. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (no shell), with its output and how long it took; killed after `timeoutMs`. */
export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

export { freePort } from '../../services/core/service/free-port.js';

/** `ssh airlock logs -f payments-worker-0` through the stack's ssh config (stdout piped). */
export function followWorkerLogs(stack: Pick<PodsStack, 'sshConfigPath'>): ChildProcessWithoutNullStreams {
  return spawn('ssh', [
    '-F',
    stack.sshConfigPath,
    '-o',
    'BatchMode=yes',
    'airlock',
    'logs',
    '-f',
    'payments-worker-0',
  ]);
}

/** A new certificate for oncall through the broker pod (a new executor pod refuses one issued before it started). */
export function reissueOncall(stack: PodsStack): Promise<unknown> {
  return issueThroughBroker({
    brokerUrl: stack.brokerUrl,
    caPath: stack.brokerCaPath,
    oidc: stack.oidc,
    user: 'oncall',
    configDir: join(stack.stateDir, 'users', 'oncall', 'dev-up-login'),
    publicKeyPath: `${stack.users.oncall!.keyPath}.pub`,
  });
}
