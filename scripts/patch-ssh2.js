// Applies the reviewed patches under patches/ to the installed ssh2 package,
// idempotently, and fails loudly when one no longer applies.
//
// The patches are ordinary unified diffs against the ssh2 package root
// (`patch -p1` or `git apply` take them too), so they can be read, reviewed
// and offered upstream as they are. This script needs no `patch` or `git`
// binary (the image build has neither): it matches every hunk by its text,
// not its line numbers, and requires that text to occur exactly once. A file
// whose hunks are all already present is left alone; a file where some are
// present and some are not, or where a hunk's text is missing or ambiguous,
// fails the install: a newer ssh2 needs the patch re-done (or dropped).
//
// Run by scripts/native-addons.js (npm ci's postinstall) and by the image
// build (`node scripts/patch-ssh2.js`), which installs with --ignore-scripts.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const PATCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'patches');
const PATCH_PREFIX = 'ssh2-';

/**
 * The files and hunks of a unified diff: for each file its path (without the
 * b/ prefix) and, per hunk, the text before and after. Each hunk's body is
 * read by the line counts of its @@ header; text outside hunks (the
 * description, `diff` lines) is ignored.
 */
export function parsePatch(text) {
  const lines = text.split('\n');
  const files = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('--- ') || !lines[i + 1]?.startsWith('+++ ')) continue;
    const file = { path: lines[i + 1].slice(4).split('\t')[0].replace(/^b\//, ''), hunks: [] };
    files.push(file);
    i += 2;
    const hunkHeader = () => /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(lines[i] ?? '');
    for (let header = hunkHeader(); header; header = hunkHeader()) {
      let [oldLeft, newLeft] = [Number(header[1] ?? 1), Number(header[2] ?? 1)];
      const before = [];
      const after = [];
      for (i++; oldLeft > 0 || newLeft > 0; i++) {
        const line = lines[i];
        if (line === undefined) throw new Error(`patch ends inside a hunk of ${file.path}`);
        // An empty line is an empty context line whose leading space an editor dropped.
        const mark = line[0] ?? ' ';
        const body = line.slice(1);
        if (mark !== ' ' && mark !== '-' && mark !== '+') {
          throw new Error(`unexpected line in a hunk of ${file.path}: ${JSON.stringify(line)}`);
        }
        if (mark !== '+') {
          before.push(body);
          oldLeft--;
        }
        if (mark !== '-') {
          after.push(body);
          newLeft--;
        }
        if (oldLeft < 0 || newLeft < 0) throw new Error(`hunk longer than its header in ${file.path}`);
      }
      if (lines[i]?.startsWith('\\')) throw new Error('patches without a final newline are not supported');
      file.hunks.push({ before: `${before.join('\n')}\n`, after: `${after.join('\n')}\n` });
    }
    i--;
  }
  if (files.length === 0 || files.some((f) => f.hunks.length === 0)) throw new Error('no hunks in the patch');
  return files;
}

function occurrences(text, part) {
  return text.split(part).length - 1;
}

/**
 * One file's text with the hunks applied: `{ state: 'applied', text }`, or
 * `{ state: 'present' }` when every hunk is already there. Throws when the
 * patch neither applies nor is present.
 */
export function applyHunks(text, hunks, name = 'file') {
  if (hunks.every((h) => occurrences(text, h.after) === 1)) return { state: 'present' };
  let out = text;
  hunks.forEach((h, index) => {
    const found = occurrences(out, h.before);
    if (found !== 1) {
      const why = found === 0 ? 'its text is not there' : `its text occurs ${found} times`;
      throw new Error(`${name}: hunk ${index + 1} does not apply (${why})`);
    }
    out = out.replace(h.before, () => h.after);
  });
  return { state: 'applied', text: out };
}

/** Applies one patch file under `root`; returns what happened per file. */
export function applyPatchFile(patchPath, root) {
  const results = [];
  for (const { path, hunks } of parsePatch(readFileSync(patchPath, 'utf8'))) {
    const target = resolve(root, path);
    if (!target.startsWith(resolve(root) + sep))
      throw new Error(`${patchPath}: path outside the package: ${path}`);
    const result = applyHunks(readFileSync(target, 'utf8'), hunks, `${patchPath}: ${path}`);
    if (result.state === 'applied') writeFileSync(target, result.text);
    results.push({ path, state: result.state });
  }
  return results;
}

/** The ssh2 patches shipped in patches/, in name order. */
export function ssh2Patches() {
  return readdirSync(PATCH_DIR)
    .filter((name) => name.startsWith(PATCH_PREFIX) && name.endsWith('.patch'))
    .sort()
    .map((name) => join(PATCH_DIR, name));
}

/** Applies every ssh2 patch to the ssh2 that `import` resolves from here. */
export function patchSsh2() {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('ssh2/package.json'));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (version !== '1.17.0') {
    throw new Error(
      `the patches in patches/ are for ssh2 1.17.0, installed is ${version}: re-do or drop them`,
    );
  }
  return ssh2Patches().map((patch) => ({ patch, files: applyPatchFile(patch, root) }));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const { patch, files } of patchSsh2()) {
      const states = files.map((f) => `${f.path} ${f.state}`).join(', ');
      process.stdout.write(`airlock: ssh2 patch ${patch.split(sep).pop()}: ${states}\n`);
    }
  } catch (error) {
    process.stderr.write(`airlock: cannot patch ssh2: ${error.message}\n`);
    process.exit(1);
  }
}
