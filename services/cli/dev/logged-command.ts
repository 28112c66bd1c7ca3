import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface LoggedCommandOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Everything the command prints goes here (stdout and stderr). */
  readonly logPath: string;
  /** What the heartbeat lines call the work, e.g. "building the hermetic cluster". */
  readonly what: string;
  /** Receives a heartbeat line every `heartbeatMs` while the command runs. */
  readonly onProgress?: (line: string) => void;
  /** Default 30 s. */
  readonly heartbeatMs?: number;
}

/** 75 000 ms → `1m15s`; under a minute, `42s`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes === 0 ? `${seconds}s` : `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
}

/**
 * Runs a long command with its output in a log file, and says it is alive:
 * every `heartbeatMs` a line with the elapsed time and the last line the
 * command printed (for `go build -v`, the package it got to), so a cold
 * build is not minutes of silence. Resolves with the exit status.
 */
export function runLoggedCommand(
  command: string,
  args: readonly string[],
  options: LoggedCommandOptions,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const log = createWriteStream(options.logPath);
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
    });
    let lastLine = '';
    const remember = (chunk: Buffer) => {
      const lines = chunk
        .toString('utf8')
        .split('\n')
        .map((line) => line.trim());
      lastLine = lines.filter((line) => line !== '').at(-1) ?? lastLine;
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const heartbeat = setInterval(() => {
      const step = lastLine === '' ? 'nothing printed yet' : `last step: ${lastLine}`;
      options.onProgress?.(`${options.what}: ${formatElapsed(Date.now() - started)} elapsed, ${step}`);
    }, options.heartbeatMs ?? 30_000);
    heartbeat.unref();
    child.on('error', (error) => {
      clearInterval(heartbeat);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      log.end(() => resolve(code ?? 1));
    });
  });
}
