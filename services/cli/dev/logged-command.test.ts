import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatElapsed, runLoggedCommand } from './logged-command.js';

describe('runLoggedCommand', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('beats with the elapsed time and the last line printed until the command ends, and logs its output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-logged-'));
    dirs.push(dir);
    const release = join(dir, 'release');
    // The command waits for `release`, which the test writes once a heartbeat named the second step.
    const script = 'echo step-one; echo step-two >&2; while [ ! -e "$1" ]; do sleep 0.02; done; echo done';
    const beats: string[] = [];
    const status = await runLoggedCommand('sh', ['-c', script, 'sh', release], {
      cwd: dir,
      logPath: join(dir, 'build.log'),
      what: 'building the thing',
      heartbeatMs: 20,
      onProgress: (line) => {
        beats.push(line);
        if (line.includes('step-two') && !existsSync(release)) writeFileSync(release, '');
      },
    });
    expect(status).toBe(0);
    expect(beats.find((line) => line.includes('step-two'))).toMatch(
      /^building the thing: \d+s elapsed, last step: step-two$/,
    );
    expect(readFileSync(join(dir, 'build.log'), 'utf8').split('\n').sort()).toEqual([
      '',
      'done',
      'step-one',
      'step-two',
    ]);
  });

  it('resolves with the exit status of a failing command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-logged-'));
    dirs.push(dir);
    const status = await runLoggedCommand('sh', ['-c', 'exit 3'], {
      cwd: dir,
      logPath: join(dir, 'build.log'),
      what: 'x',
    });
    expect(status).toBe(3);
  });
});

describe('formatElapsed', () => {
  it('writes seconds under a minute, minutes and two-digit seconds above', () => {
    expect([
      formatElapsed(0),
      formatElapsed(42_900),
      formatElapsed(75_000),
      formatElapsed(1_505_000),
    ]).toEqual(['0s', '42s', '1m15s', '25m05s']);
  });
});
