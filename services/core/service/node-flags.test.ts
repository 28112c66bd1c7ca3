import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../repo/repo-root.js';
import { STREAM_TIER_NODE_FLAGS, STREAM_TIER_RUNTIME_V8_FLAGS } from './node-flags.js';

/** Exit status of this Node started with `flags` and an empty script. */
const nodeWith = (flags: readonly string[]) =>
  spawnSync(process.execPath, [...flags, '-e', ''], { encoding: 'utf8' });

describe('stream tier V8 flags', () => {
  // v8.setFlagsFromString only prints a warning for a flag V8 does not know;
  // the command line refuses one, so a Node upgrade that drops a flag fails here.
  it.each([...STREAM_TIER_NODE_FLAGS, ...STREAM_TIER_RUNTIME_V8_FLAGS])('this Node knows %s', (flag) => {
    const run = nodeWith([flag]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('the check refuses a flag V8 does not know', () => {
    expect(nodeWith(['--heap-growing-percentage=200']).status).not.toBe(0);
  });

  it.each([
    ['mediator', 'services/mediator/main.ts'],
    ['executor', 'services/executor/main.ts'],
    ['door', 'services/mediator/door/main.ts'],
  ])('the %s sets the runtime flags as it starts', (_tier, file) => {
    const source = readFileSync(join(repoRoot(), file), 'utf8');
    expect(source).toMatch(/serviceMain\([\s\S]*STREAM_TIER_RUNTIME_V8_FLAGS,?\s*\)/);
  });
});
