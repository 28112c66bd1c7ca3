import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './repo-root.js';

/**
 * `.ci/run` runs the README's test command, and a failure anywhere in it
 * fails CI. Under `set -e`, bash does not stop for a failure on the left of
 * `&&`: a bare `npm ci && npm test` whose `npm ci` failed went on to the lint
 * and the typecheck, and CI passed without running a test.
 */
const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
const script = readFileSync(join(repoRoot(), '.ci', 'run'), 'utf8');
const testCommand = /Run every test[^\n]*\n\n```sh\n([^\n]+)\n```/.exec(readme)?.[1] ?? '';
const ciLine = script.split('\n').find((line) => !line.startsWith('#') && line.includes(testCommand)) ?? '';

/** Runs `.ci/run`'s test line under its shell options with `npm` stubbed: `npm ci` exits `ciStatus`. */
function runCiLine(ciStatus: number) {
  const stub = `npm() { if [ "$1" = ci ]; then return ${ciStatus}; fi; echo "npm $*"; }`;
  return spawnSync('bash', ['-c', `set -euo pipefail; ${stub}; ${ciLine}; echo went-on`], {
    encoding: 'utf8',
  });
}

describe('.ci/run', () => {
  it("runs the README's test command", () => {
    expect(testCommand).toBe('npm ci && npm test');
    expect(ciLine).not.toBe('');
  });

  it('stops, failing, when `npm ci` fails', () => {
    const run = runCiLine(7);
    expect(run.stdout).not.toContain('went-on');
    expect(run.status).not.toBe(0);
  });

  it('runs the tests and goes on when `npm ci` succeeds', () => {
    const run = runCiLine(0);
    expect(run.stdout).toBe('npm test\nwent-on\n');
    expect(run.status).toBe(0);
  });
});
