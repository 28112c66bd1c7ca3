import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { runLogged, runQuiet } from '../host-commands.js';
import { baseImageKey, baseImageTag, debianMirror, ensureBaseImage } from './base-image.js';
import { startDockerDaemon } from './docker-daemon.js';

/** The images deploy/ runs (the broker runs from the mediator image), with the tag deploy/overlays/dev uses. */
export const APP_IMAGES = {
  'airlock-mediator': 'Dockerfile.mediator',
  'airlock-executor': 'Dockerfile.executor',
} as const;
export type AppImage = keyof typeof APP_IMAGES;
export const DEV_TAG = 'dev';

/** What the build context holds (.dockerignore allows exactly these). */
const CONTEXT_FILES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  '.dockerignore',
  join('scripts', 'patch-ssh2.js'),
  join('scripts', 'native-addons.js'),
];
const CONTEXT_DIRS = ['services', 'proto', 'patches'];
/** Tests and test doubles, left out of the context like the CLI (.dockerignore). */
const TEST_CODE = /(\.test\.ts|^testing\.ts|-test-helpers\.ts)$/;
/** Left out of the context (.dockerignore): the CLI and its dev tooling are not in the images. */
const EXCLUDED_DIRS = [join('services', 'cli')];

export interface BuiltImage {
  /** `airlock-mediator`, `airlock-executor` or `airlock-otelcol` */
  name: string;
  /** `airlock-mediator:dev` */
  ref: string;
  /** `docker save` archive, for `ctr images import`. */
  archive: string;
  /** Uncompressed size as Docker reports it. */
  sizeBytes: number;
}

/** Where images are cached: dockerd's data root and the saved archives. */
export function imageCacheDir(): string {
  return (
    process.env.AIRLOCK_IMAGE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airlock', 'images')
  );
}

function listFiles(dir: string, root: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!EXCLUDED_DIRS.includes(relative(root, path))) found.push(...listFiles(path, root));
    } else if (!TEST_CODE.test(entry.name)) found.push(relative(root, path));
  }
  return found;
}

/** Hash of everything an app image is built from: its Dockerfile, the build context and the bases' keys. */
export function appImageKey(root: string, dockerfile: string, baseKey: string): string {
  const hash = createHash('sha256');
  hash.update(`${baseKey}\n${dockerfile}\n`);
  const files = [
    dockerfile,
    ...CONTEXT_FILES,
    ...CONTEXT_DIRS.flatMap((dir) => listFiles(join(root, dir), root)),
  ];
  for (const file of files.sort()) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(root, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

interface Manifest {
  sizeBytes: number;
}

/**
 * Builds the base and both app images with a Docker daemon started for the
 * purpose, saves each app image to `<cache>/<name>-<key>.tar`, and stops the
 * daemon. Images whose archive for the current sources exists are skipped
 * (and the daemon is not started at all when nothing changed).
 */
export async function ensureAppImages(progress: (line: string) => void): Promise<BuiltImage[]> {
  const root = repoRoot();
  const cache = imageCacheDir();
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const mirror = debianMirror();
  const baseKey = `${baseImageKey(mirror, 'build')}/${baseImageKey(mirror, 'runtime')}`;
  const plan = (Object.entries(APP_IMAGES) as [AppImage, string][]).map(([name, dockerfile]) => {
    const key = appImageKey(root, dockerfile, baseKey);
    return { name, dockerfile, key, archive: join(cache, `${name}-${key}.tar`) };
  });
  const todo = plan.filter((image) => !existsSync(image.archive) || !existsSync(`${image.archive}.json`));
  if (todo.length > 0) {
    await withImageBuilder(
      todo.map((image) => image.name),
      progress,
      async (bases, ctx) => {
        for (const image of todo) await buildImage(image, bases, { ...ctx, root });
      },
    );
    removeStaleArchives(
      cache,
      /^airlock-(mediator|executor)-[0-9a-f]{16}\.tar(\.json)?$/,
      plan.map((image) => image.archive),
    );
  }
  return plan.map((image) => builtImage(image.name, image.archive));
}

/** What `withImageBuilder` hands a build: the bases' tags, the daemon's environment, the log. */
export interface ImageBuilder {
  logPath: string;
  env: NodeJS.ProcessEnv;
  progress: (line: string) => void;
}

/**
 * Starts a Docker daemon on the image cache, makes sure both local bases are
 * in it, runs `build`, prunes dangling layers and stops the daemon.
 */
export async function withImageBuilder(
  names: string[],
  progress: (line: string) => void,
  build: (bases: { build: string; runtime: string }, ctx: ImageBuilder) => Promise<void>,
): Promise<void> {
  const cache = imageCacheDir();
  const logPath = join(cache, 'build.log');
  writeFileSync(logPath, '');
  progress(`building ${names.join(', ')}; log: ${logPath}`);
  const docker = await startDockerDaemon(join(cache, 'docker'), join(cache, 'dockerd.log'));
  try {
    const bases = {
      build: await ensureBaseImage('build', docker.env, cache, logPath, progress),
      runtime: await ensureBaseImage('runtime', docker.env, cache, logPath, progress),
    };
    await build(bases, { logPath, env: docker.env, progress });
    runQuiet('docker', ['image', 'prune', '--force'], 'IMAGE_BUILD_FAILED', docker.env);
  } finally {
    await docker.stop();
  }
}

/** A saved image as the cluster imports it: `<name>:dev`, its archive and its size. */
export function builtImage(name: string, archive: string): BuiltImage {
  return {
    name,
    ref: `${name}:${DEV_TAG}`,
    archive,
    sizeBytes: (JSON.parse(readFileSync(`${archive}.json`, 'utf8')) as Manifest).sizeBytes,
  };
}

interface BuildContext extends ImageBuilder {
  root: string;
}

/**
 * Builds one app image (build stage on the build base, runtime stage on the
 * runtime base), smoke-runs it as the pods do, and saves it to its archive.
 */
async function buildImage(
  image: { name: AppImage; dockerfile: string; key: string; archive: string },
  bases: { build: string; runtime: string },
  ctx: BuildContext,
): Promise<void> {
  const started = Date.now();
  const ref = `${image.name}:${DEV_TAG}`;
  await runLogged(
    'docker',
    [
      'build',
      '--network=host',
      '-f',
      image.dockerfile,
      '--build-arg',
      `BASE_IMAGE=${bases.build}`,
      '--build-arg',
      `RUNTIME_IMAGE=${bases.runtime}`,
      '-t',
      ref,
      '-t',
      `${image.name}:${image.key}`,
      '.',
    ],
    ctx.logPath,
    'IMAGE_BUILD_FAILED',
    { cwd: ctx.root, env: ctx.env },
  );
  // Smoke test as the pods run it: a non-root user, a read-only root, no network.
  await runLogged(
    'docker',
    [
      'run',
      '--rm',
      '--read-only',
      '--network=none',
      '--user=10001:10001',
      '--cap-drop=ALL',
      ref,
      image.name === 'airlock-executor' ? 'dist/services/executor/main.js' : 'dist/services/mediator/main.js',
      '--help',
    ],
    ctx.logPath,
    'IMAGE_BUILD_FAILED',
    { env: ctx.env },
  );
  await saveImage(ref, image.archive, ctx);
  ctx.progress(`built ${ref} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** `docker save` of `ref` to `archive` (through a staging file), with its size beside it in `<archive>.json`. */
export async function saveImage(ref: string, archive: string, ctx: ImageBuilder): Promise<void> {
  const sizeBytes = Number(
    runQuiet(
      'docker',
      ['image', 'inspect', '--format', '{{.Size}}', ref],
      'IMAGE_BUILD_FAILED',
      ctx.env,
    ).trim(),
  );
  const staging = `${archive}.partial-${process.pid}`;
  await runLogged('docker', ['save', '-o', staging, ref], ctx.logPath, 'IMAGE_BUILD_FAILED', {
    env: ctx.env,
  });
  renameSync(staging, archive);
  writeFileSync(`${archive}.json`, JSON.stringify({ sizeBytes } satisfies Manifest));
  ctx.progress(`saved ${ref} (${(sizeBytes / 1e6).toFixed(0)} MB)`);
}

/** Removes the archives (and their size files) named like `pattern` that are not in `keep`. */
export function removeStaleArchives(cache: string, pattern: RegExp, keep: string[]): void {
  for (const entry of readdirSync(cache)) {
    const path = join(cache, entry);
    const archive = path.replace(/\.json$/, '');
    if (pattern.test(entry) && !keep.includes(archive)) rmSync(path, { force: true });
  }
}

export { baseImageTag };
