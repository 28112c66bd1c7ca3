import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../../core/errors.js';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { runLogged } from '../host-commands.js';
import { ensureOtelcolBinary } from '../otelcol-binary.js';
import {
  type BuiltImage,
  builtImage,
  DEV_TAG,
  type ImageBuilder,
  imageCacheDir,
  removeStaleArchives,
  saveImage,
  withImageBuilder,
} from './app-images.js';
import { baseImageKey, debianMirror } from './base-image.js';

/**
 * The audit-shipping component's collector image (deploy/components/audit-shipping):
 * the collector test/otelcol builds (services/cli/dev/otelcol-binary.ts, cached in
 * ~/.cache/airlock/otelcol) on the local runtime base, like the app images.
 */
export const OTELCOL_IMAGE = 'airlock-otelcol';
export const OTELCOL_DOCKERFILE = 'Dockerfile.otelcol';
const BINARY = 'otelcol-airlock';
/** The components the audit agent and the audit store configure; the smoke run checks they are in. */
const REQUIRED_COMPONENTS = ['file_log', 'otlp', 'file', 'otlp_http', 'file_storage'] as const;

/** Hash of what the image is made of: the runtime base's key, the Dockerfile and the binary. */
export function otelcolImageKey(runtimeBaseKey: string, dockerfile: Buffer, binary: Buffer): string {
  const hash = createHash('sha256');
  hash.update(`${runtimeBaseKey}\n${OTELCOL_DOCKERFILE}\n`);
  hash.update(dockerfile);
  hash.update('\nbinary\n');
  hash.update(binary);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds (or finds cached) `airlock-otelcol:dev`: the collector binary first
 * (minutes when cold), then the image on the runtime base, saved to
 * `<image cache>/airlock-otelcol-<key>.tar` for the real node's containerd.
 */
export async function ensureOtelcolImage(progress: (line: string) => void): Promise<BuiltImage> {
  const binary = await ensureOtelcolBinary({ onProgress: progress });
  const dockerfile = join(repoRoot(), OTELCOL_DOCKERFILE);
  const cache = imageCacheDir();
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const key = otelcolImageKey(
    baseImageKey(debianMirror(), 'runtime'),
    readFileSync(dockerfile),
    readFileSync(binary),
  );
  const archive = join(cache, `${OTELCOL_IMAGE}-${key}.tar`);
  if (!existsSync(archive) || !existsSync(`${archive}.json`)) {
    await withImageBuilder([OTELCOL_IMAGE], progress, (bases, ctx) =>
      buildOtelcolImage({ binary, dockerfile, key, archive, runtime: bases.runtime }, ctx),
    );
    removeStaleArchives(cache, /^airlock-otelcol-[0-9a-f]{16}\.tar(\.json)?$/, [archive]);
  }
  return builtImage(OTELCOL_IMAGE, archive);
}

async function buildOtelcolImage(
  image: { binary: string; dockerfile: string; key: string; archive: string; runtime: string },
  ctx: ImageBuilder,
): Promise<void> {
  const started = Date.now();
  const ref = `${OTELCOL_IMAGE}:${DEV_TAG}`;
  // The context holds the binary only.
  const context = mkdtempSync(join(imageCacheDir(), 'otelcol-context-'));
  try {
    copyFileSync(image.binary, join(context, BINARY));
    const tags = ['-t', ref, '-t', `${OTELCOL_IMAGE}:${image.key}`];
    const args = ['build', '--network=none', '-f', image.dockerfile, '--build-arg'];
    await runLogged(
      'docker',
      [...args, `RUNTIME_IMAGE=${image.runtime}`, ...tags, context],
      ctx.logPath,
      FAIL,
      {
        env: ctx.env,
      },
    );
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  // Smoke run as the pods run it (non-root, read-only root, no network): the components are in.
  const components = join(imageCacheDir(), `otelcol-components-${process.pid}.txt`);
  try {
    const smoke = ['run', '--rm', '--read-only', '--network=none', '--user=10001:10001', '--cap-drop=ALL'];
    await runLogged('docker', [...smoke, ref, 'components'], ctx.logPath, FAIL, {
      env: ctx.env,
      stdoutPath: components,
    });
    const listed = readFileSync(components, 'utf8');
    const missing = REQUIRED_COMPONENTS.filter(
      (name) => !new RegExp(`^ *- name: ${name}$`, 'm').test(listed),
    );
    if (missing.length > 0)
      throw new AirlockError(FAIL, `${ref} lacks collector components: ${missing.join(', ')}`);
  } finally {
    rmSync(components, { force: true });
  }
  await saveImage(ref, image.archive, ctx);
  ctx.progress(`built ${ref} in ${Math.round((Date.now() - started) / 1000)} s`);
}

const FAIL = 'IMAGE_BUILD_FAILED' as const;
