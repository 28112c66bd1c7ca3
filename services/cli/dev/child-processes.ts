import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { AirlockError } from '../../core/errors.js';

/**
 * `setpriv --pdeathsig TERM -- CMD` (util-linux) sets the parent-death
 * signal (prctl PR_SET_PDEATHSIG, which Node cannot call) and then execs
 * CMD under the same pid: the kernel sends the child SIGTERM when this
 * process dies, however it dies (SIGKILL, a crash), so etcd, kube-apiserver
 * or a tier never outlive it. Absent elsewhere: the children are then only
 * stopped by `stopAll`.
 */
const PDEATHSIG =
  process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

/** A long-running child process with its output going to a log file. */
export interface SupervisedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts and stops the cluster's processes. Every process it starts is
 * remembered, so `stopAll` can end all of them (newest first) and nothing is
 * left running after the owner stops.
 */
export class ProcessGroup {
  readonly #processes: SupervisedProcess[] = [];
  #stopping = false;
  /** Processes stopped on purpose by `stopOne`: their exit is not a crash. */
  readonly #expectedExits = new Set<SupervisedProcess>();

  start(
    name: string,
    command: string,
    args: string[],
    logPath: string,
    env?: NodeJS.ProcessEnv,
  ): SupervisedProcess {
    const log = createWriteStream(logPath, { flags: 'a' });
    const [file, argv] = PDEATHSIG
      ? [PDEATHSIG, ['--pdeathsig', 'TERM', '--', command, ...args]]
      : [command, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | string>((resolve) => {
      child.on('error', () => resolve('spawn-error'));
      child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    if (child.pid === undefined) {
      throw new AirlockError('CLUSTER_START_FAILED', `${name} could not be started (${command})`);
    }
    const proc: SupervisedProcess = { name, pid: child.pid, logPath, child, exited };
    this.#processes.push(proc);
    return proc;
  }

  get processes(): readonly SupervisedProcess[] {
    return this.#processes;
  }

  /**
   * Fails with the process name, its exit status and the tail of its log if
   * any process exits before `stopAll` was called.
   */
  watchForCrash(): Promise<never> {
    return new Promise((_, reject) => {
      for (const proc of this.#processes) {
        void proc.exited.then((status) => {
          if (!this.#stopping && !this.#expectedExits.has(proc)) reject(crashError(proc, status));
        });
      }
    });
  }

  /**
   * SIGTERM one process (SIGKILL after `graceMs`) and wait for its exit.
   * `watchForCrash` promises made before this are not rejected by it.
   */
  async stopOne(proc: SupervisedProcess, graceMs = 5_000): Promise<void> {
    this.#expectedExits.add(proc);
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** SIGTERM every process, newest first; SIGKILL what is still alive after `graceMs`. */
  async stopAll(graceMs = 5_000): Promise<void> {
    this.#stopping = true;
    for (const proc of [...this.#processes].reverse()) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
      await proc.exited;
      clearTimeout(timer);
    }
  }
}

export function crashError(proc: SupervisedProcess, status: number | string): AirlockError {
  return new AirlockError('CLUSTER_START_FAILED', `${proc.name} (pid ${proc.pid}) exited with ${status}`, {
    detail: logTail(proc.logPath),
  });
}

export function logTail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
