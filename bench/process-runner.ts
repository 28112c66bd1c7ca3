/**
 * Runs a client process (ssh, kubectl) the way a user's shell would, and
 * times it from spawn to exit. Output is counted, and kept only when asked.
 */
import { spawn } from 'node:child_process';

export interface ProcessRun {
  code: number | null;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  stdoutBytes: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  /** Bytes written to the child's stdin, then EOF. Without it stdin is /dev/null. */
  stdin?: Buffer;
  /** Times `stdin` is written (a large upload without a large buffer). */
  stdinRepeat?: number;
  /** Keep stdout (default true); false only counts it. */
  keepStdout?: boolean;
}

export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stdoutBytes = 0;
    const keep = options.keepStdout ?? true;
    child.stdout!.on('data', (d: Buffer) => {
      stdoutBytes += d.length;
      if (keep) out.push(d);
    });
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    if (options.stdin && child.stdin) {
      const stdin = child.stdin;
      const chunk = options.stdin;
      let left = options.stdinRepeat ?? 1;
      stdin.on('error', () => {});
      const pump = () => {
        while (left > 0) {
          left--;
          if (!stdin.write(chunk)) {
            stdin.once('drain', pump);
            return;
          }
        }
        stdin.end();
      };
      pump();
    }
    child.once('close', (code) =>
      resolve({
        code,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
        stdoutBytes,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
      }),
    );
  });
}

/** Like `runProcess` but rejects unless the exit status is 0. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessRun> {
  const run = await runProcess(command, args, options);
  if (run.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${run.code}: ${run.stderr.toString().slice(-500)}`);
  return run;
}
