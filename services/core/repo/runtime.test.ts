import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * airlock runs on Node 26, brought by the `node` devDependency: npm scripts
 * and npx put node_modules/.bin first on PATH (README "Requirements"). These
 * tests fail when a run slips onto another Node (the machine's own, say) or
 * when ssh2 would fall back to its JavaScript crypto because its native
 * binding was not built for this Node (scripts/native-addons.js builds it).
 */
const require = createRequire(import.meta.url);

describe('runtime', () => {
  it('is Node 26', () => {
    expect(process.versions.node.split('.')[0]).toBe('26');
  });

  it('gives the processes tests and `airlock dev up` spawn as `node` the same Node', () => {
    const child = spawnSync('node', ['-p', 'process.version'], { encoding: 'utf8' });
    expect(child.stdout.trim()).toBe(process.version);
  });

  it("loads ssh2's native crypto binding (no fallback to JavaScript ciphers and MACs)", () => {
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
    expect(crypto.bindingAvailable).toBe(true);
  });

  it('loads cpu-features, which ssh2 uses to order its ciphers by hardware support', () => {
    const cpuFeatures = require('cpu-features') as () => { flags: Record<string, boolean> };
    expect(typeof cpuFeatures().flags).toBe('object');
  });
});
