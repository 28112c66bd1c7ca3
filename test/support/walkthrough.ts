import { type ChildProcess, spawn } from 'node:child_process';

/** What a printed command did. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one printed command line with sh, from `cwd` as the walkthrough says. */
export function shell(
  line: string,
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    onStderr?: (text: string) => void;
    onStdout?: (text: string) => void;
  },
): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn('sh', ['-c', line], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
    options.onStdout?.(stdout);
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    options.onStderr?.(stderr);
  });
  return {
    child,
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
  };
}

/** The walkthrough's steps: the indented command lines under each numbered heading. */
export function parseWalkthrough(text: string): Map<number, string[]> {
  const steps = new Map<number, string[]>();
  let step = 0;
  for (const line of text.split('\n')) {
    const heading = /^ ?(\d+)\. /.exec(line);
    if (heading) step = Number(heading[1]);
    else if (step > 0 && line.startsWith('      '))
      steps.set(step, [...(steps.get(step) ?? []), line.trim()]);
  }
  return steps;
}

/**
 * Runs a printed command line with a pipe for stdin and types into it as a
 * person would: each `[waitFor, keys]` sends `keys` once stdout shows
 * `waitFor` (keys sent in one write arrive together, as a paste would), and
 * ends stdin after the last. Killed after a minute if a reply never comes.
 */
export function converse(
  line: string,
  script: readonly (readonly [waitFor: string, keys: string])[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Ran> {
  const child = spawn('sh', ['-c', line], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let next = 0;
  let from = 0;
  const advance = () => {
    while (next < script.length) {
      const [waitFor, keys] = script[next]!;
      const at = stdout.indexOf(waitFor, from);
      if (at < 0) return;
      from = at + waitFor.length;
      next++;
      child.stdin!.write(keys);
    }
    child.stdin!.end();
  };
  child.stdout!.on('data', (d) => {
    stdout += d;
    advance();
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdin!.on('error', () => {});
  // A reply that never comes ends the conversation instead of the test's whole time budget.
  const stuck = setTimeout(() => child.kill('SIGTERM'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(stuck);
      resolve({ code, stdout, stderr });
    }),
  );
}
