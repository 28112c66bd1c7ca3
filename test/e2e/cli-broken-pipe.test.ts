/**
 * `airlock … | head`: a reader that goes away ends the CLI quietly, as it
 * ends other Unix tools, through `npx airlock` and `node bin/airlock.js`
 * alike (no unhandled EPIPE and its stack trace).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Runs the CLI with its stdout a pipe whose reading end is closed before the CLI writes. */
function runIntoClosedPipe(
  command: string,
  args: string[],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  // Closed at once: the CLI takes far longer to load than this takes to run.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('airlock output into a closed pipe', () => {
  it.each([
    ['node bin/airlock.js --help', process.execPath, ['bin/airlock.js', '--help']],
    ['npx airlock --help', 'npx', ['airlock', '--help']],
    ['npx airlock policy check', 'npx', ['airlock', 'policy', 'check', 'docs/policy.example.json']],
  ])('%s exits 0 without a stack trace', async (_name, command, args) => {
    const result = await runIntoClosedPipe(command, args);
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js/);
    expect(result.code).toBe(0);
  });
});
