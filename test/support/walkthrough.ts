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
