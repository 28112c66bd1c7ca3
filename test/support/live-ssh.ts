import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type Mediator, type SshUser, sshArgs } from './mediator-harness.js';

/**
 * A stock `ssh` client that keeps running while a test talks to it: what
 * it printed so far (stdout and stderr together, in arrival order), a way to
 * wait for some text, to type a line, and its exit status. With `-tt` and a
 * piped stdin the remote side reads lines, which is all the moderation
 * commands need (no node-pty). `stalled`: stdout is not read until `resume()`.
 */
export interface LiveSsh {
  /** Everything printed so far. */
  output(): string;
  /** Resolves once `pattern` matches the output (from `from` on); rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<RegExpMatchArray>;
  type(line: string): void;
  /** Writes `keys` as they are, no newline (Tab, for instance). */
  send(keys: string): void;
  /** The exit status (null when killed). */
  exited: Promise<number | null>;
  kill(): void;
  /** Starts reading stdout of a client started `stalled`. */
  resume(): void;
}

export function liveSsh(
  mediator: Mediator,
  user: SshUser,
  command: string[],
  options: { extra?: string[]; login?: string; stalled?: boolean } = {},
): LiveSsh {
  const child: ChildProcessWithoutNullStreams = spawn(
    'ssh',
    [...sshArgs(mediator, user, options.extra, options.login), ...command],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of [...listeners]) listener();
  };
  // A stalled client's stdout is not read until resume(): the pipe fills, ssh stops
  // reading its channel, and the SSH window closes, as for a watcher who walked away.
  if (!options.stalled) child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of [...listeners]) listener();
  });
  return {
    output: () => text,
    waitFor(pattern, { from = 0, timeoutMs = 20_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.slice(from).match(pattern);
          if (match) {
            finish();
            resolve(match);
          } else if (done) {
            finish();
            reject(new Error(`ssh exited before printing ${pattern}; it printed:\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; ssh printed:\n${text}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    type: (line) => child.stdin.write(`${line}\n`),
    send: (keys) => child.stdin.write(keys),
    exited,
    kill: () => child.kill('SIGKILL'),
    resume: () => {
      if (child.stdout.listenerCount('data') === 0) child.stdout.on('data', append);
    },
  };
}
