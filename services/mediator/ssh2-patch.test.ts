import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyHunks, applyPatchFile, parsePatch, ssh2Patches } from '../../scripts/patch-ssh2.js';

// scripts/patch-ssh2.js, which carries patches/ssh2-*.patch into node_modules/ssh2 at npm ci.

const ORIGINAL = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', ''].join('\n');
const PATCH = [
  'A description the parser skips.',
  '',
  'diff --git a/lib/x.js b/lib/x.js',
  '--- a/lib/x.js',
  '+++ b/lib/x.js',
  '@@ -1,3 +1,4 @@',
  ' one',
  '+one and a half',
  ' two',
  ' three',
  '@@ -5,3 +6,3 @@',
  ' five',
  '-six',
  '+SIX',
  ' seven',
  '',
].join('\n');

function packageWith(text: string): { root: string; patch: string } {
  const root = mkdtempSync(join(tmpdir(), 'airlock-patch-'));
  mkdirSync(join(root, 'lib'));
  writeFileSync(join(root, 'lib', 'x.js'), text);
  const patch = join(root, 'x.patch');
  writeFileSync(patch, PATCH);
  return { root, patch };
}

describe('scripts/patch-ssh2.js', () => {
  it('applies a unified diff by hunk text, then finds it present and leaves the file alone', () => {
    const { root, patch } = packageWith(ORIGINAL);
    expect(applyPatchFile(patch, root)).toEqual([{ path: 'lib/x.js', state: 'applied' }]);
    const patched = readFileSync(join(root, 'lib', 'x.js'), 'utf8');
    expect(patched).toBe(
      ['one', 'one and a half', 'two', 'three', 'four', 'five', 'SIX', 'seven', ''].join('\n'),
    );
    expect(applyPatchFile(patch, root)).toEqual([{ path: 'lib/x.js', state: 'present' }]);
    expect(readFileSync(join(root, 'lib', 'x.js'), 'utf8')).toBe(patched);
  });

  it('refuses a file whose text changed under a hunk, or that is half patched', () => {
    const hunks = parsePatch(PATCH)[0]!.hunks;
    expect(() => applyHunks(ORIGINAL.replace('six', 'sechs'), hunks)).toThrow(/hunk 2 does not apply/);
    expect(() => applyHunks(ORIGINAL.replace('six', 'SIX'), hunks)).toThrow(/hunk 2 does not apply/);
    expect(() => applyHunks(ORIGINAL + ORIGINAL, hunks)).toThrow(/occurs 2 times/);
  });

  it('fails the command with a non-zero status when a patch does not apply', () => {
    const { root, patch } = packageWith(ORIGINAL.replace('two', 'deux'));
    const script = `import('./scripts/patch-ssh2.js').then((m) => m.applyPatchFile(${JSON.stringify(patch)}, ${JSON.stringify(root)}))`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/hunk 1 does not apply/);
  });

  it('refuses a patch path that leaves the package', () => {
    const root = mkdtempSync(join(tmpdir(), 'airlock-patch-'));
    const patch = join(root, 'evil.patch');
    writeFileSync(patch, PATCH.replaceAll('lib/x.js', '../x.js'));
    expect(() => applyPatchFile(patch, join(root, 'pkg'))).toThrow(/outside the package/);
  });

  it('finds the shipped ssh2 patches present in the installed ssh2 (npm ci applied them)', () => {
    const patches = ssh2Patches();
    expect(patches.map((p) => p.split('/').pop())).toEqual([
      'ssh2-channel-open-failure-description.patch',
      'ssh2-mlkem768x25519-sha256.patch',
      'ssh2-openssh-host-certificates.patch',
      'ssh2-userauth-banner.patch',
    ]);
    const root = join(process.cwd(), 'node_modules', 'ssh2');
    for (const patch of patches) {
      // Read-only: applyHunks() does not write, so an unpatched ssh2 stays unpatched and this fails.
      for (const { path, hunks } of parsePatch(readFileSync(patch, 'utf8'))) {
        expect(applyHunks(readFileSync(join(root, path), 'utf8'), hunks).state).toBe('present');
      }
    }
  });
});
