import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { AirlockError, type ErrorCode } from '../../core/errors.js';
import { logTail } from './child-processes.js';

/**
 * Runs a short host command to completion and returns its stdout. Throws
 * `code` with the command's stderr when it fails (or cannot be started).
 */
export function runQuiet(
  command: string,
  args: string[],
  code: ErrorCode = 'CLUSTER_START_FAILED',
  env: NodeJS.ProcessEnv = process.env,
): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  if (result.error || result.status !== 0) {
    throw new AirlockError(code, `${command} ${args.join(' ')} failed (exit ${result.status})`, {
      detail: (result.stderr ?? '').trim().slice(-2_000) || result.error?.message,
      cause: result.error,
    });
  }
  return result.stdout;
}

/** Like `runQuiet`, but never throws: true when the command exited 0. */
export function tryRun(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'ignore'], env });
  return !result.error && result.status === 0;
}

/** True when `command` can be found on PATH (or is an absolute path that exists). */
export function haveCommand(command: string): boolean {
  return tryRun('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', command]);
}

export interface LoggedRun {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin, then closed. */
  input?: Buffer;
  /** Where the child's stdout goes instead of the log (a file path). */
  stdoutPath?: string;
}

/**
 * Runs a long host command (a build) with stdout and stderr appended to
 * `logPath`, without blocking the event loop. Throws `code` with the log's
 * tail when it fails.
 */
export async function runLogged(
  command: string,
  args: string[],
  logPath: string,
  code: ErrorCode,
  options: LoggedRun = {},
): Promise<void> {
  const status = await new Promise<number | string>((resolve) => {
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`$ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out = options.stdoutPath ? createWriteStream(options.stdoutPath) : log;
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(log, { end: false });
    if (options.input) child.stdin?.end(options.input);
    child.on('error', (error) => {
      log.write(`${error.message}\n`);
    });
    child.on('close', (exit, signal) => {
      const done = () => log.end(() => resolve(exit ?? signal ?? 'spawn-error'));
      if (out !== log) out.end(done);
      else done();
    });
  });
  if (status !== 0) {
    throw new AirlockError(
      code,
      `${command} ${args.slice(0, 3).join(' ')} … failed (${status}); log: ${logPath}`,
      {
        detail: logTail(logPath, 30),
      },
    );
  }
}
