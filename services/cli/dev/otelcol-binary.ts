/**
 * The OpenTelemetry Collector that ships audit trails off the pod
 * (docs/audit-shipping.md), built from Go modules like the hermetic cluster
 * (cluster-binaries.ts): the collector builder (ocb) generates the sources
 * from test/otelcol/builder.yaml, the committed test/otelcol/go.mod and go.sum
 * pin every module, and `go build` compiles it into a cache directory outside
 * the checkout, one build per key.
 *
 * Why ocb runs with --skip-get-modules: its own `go mod tidy` also resolves
 * the test imports of every component, and the file exporter's tests import a
 * module version the proxy does not serve; the committed go.mod/go.sum hold
 * exactly what the collector's own packages need (made once with
 * `go mod tidy -e`), and go.sum checks every download.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../core/repo/repo-root.js';
import { buildFailed, goVersion, removeStaleBuilds } from './cluster-binaries.js';
import { runLoggedCommand } from './logged-command.js';

/** The collector builder's module version; the collector modules are pinned in test/otelcol/go.mod. */
export const OTELCOL_BUILDER_VERSION = 'v0.165.0';

const BUILDER_MODULE = 'go.opentelemetry.io/collector/cmd/builder';
const LDFLAGS = '-s -w';
const MODULE_FILES = ['builder.yaml', 'go.mod', 'go.sum'] as const;

/** Where built collectors are kept: `$AIRLOCK_OTELCOL_CACHE` or `~/.cache/airlock/otelcol`. */
export function otelcolCacheDir(): string {
  return (
    process.env.AIRLOCK_OTELCOL_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airlock', 'otelcol')
  );
}

/** The cache key: everything that can change the binary. */
export function otelcolBuildKey(moduleDir: string, go: string): string {
  const hash = createHash('sha256');
  hash.update(`${go}\n${BUILDER_MODULE}@${OTELCOL_BUILDER_VERSION}\n${LDFLAGS}\n`);
  for (const file of MODULE_FILES) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(moduleDir, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

export interface EnsureOtelcolOptions {
  /** Called with short progress lines ("building ...", then a heartbeat every 30 s). */
  onProgress?: (line: string) => void;
}

/**
 * Returns the path of the collector binary, building it first when the cache
 * has no build for the current key. A cold build takes minutes (it downloads
 * and compiles the collector's modules); a warm call only hashes three files.
 */
export async function ensureOtelcolBinary(options: EnsureOtelcolOptions = {}): Promise<string> {
  const moduleDir = join(repoRoot(), 'test', 'otelcol');
  const key = otelcolBuildKey(moduleDir, goVersion());
  const root = otelcolCacheDir();
  const binary = join(root, key, 'otelcol-airlock');
  if (existsSync(binary)) return binary;

  await mkdir(root, { recursive: true });
  const staging = join(root, `${key}.building-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const source = join(staging, 'src');
  await mkdir(source, { recursive: true });
  const logPath = join(root, `build-${key}.log`);
  options.onProgress?.(`building the OpenTelemetry Collector into ${join(root, key)}; log: ${logPath}`);
  const started = Date.now();
  // ocb's output path is an absolute directory of this build, so the manifest is rewritten, not edited in place.
  const manifest = readFileSync(join(moduleDir, 'builder.yaml'), 'utf8').replace(
    /^dist:\n/m,
    `dist:\n  output_path: ${JSON.stringify(source)}\n`,
  );
  await writeFile(join(staging, 'builder.yaml'), manifest);
  const env = { ...process.env, CGO_ENABLED: '0' };
  const steps: [string, string[], string][] = [
    [
      'go',
      [
        'run',
        `${BUILDER_MODULE}@${OTELCOL_BUILDER_VERSION}`,
        '--config',
        join(staging, 'builder.yaml'),
        '--skip-get-modules',
        '--skip-compilation',
      ],
      staging,
    ],
    [
      'go',
      ['build', '-v', '-trimpath', '-ldflags', LDFLAGS, '-o', join(staging, 'otelcol-airlock'), '.'],
      source,
    ],
  ];
  for (const [index, [command, args, cwd]] of steps.entries()) {
    if (index === 1)
      for (const file of ['go.mod', 'go.sum']) copyFileSync(join(moduleDir, file), join(source, file));
    const status = await runLoggedCommand(command, args, {
      cwd,
      env,
      logPath: `${logPath}.${index}`,
      what: 'building the OpenTelemetry Collector',
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (status !== 0) {
      buildFailed(
        staging,
        `${logPath}.${index}`,
        `building the OpenTelemetry Collector failed (${args[0]}, exit ${status}); see ${logPath}.${index}`,
      );
    }
  }
  rmSync(source, { recursive: true, force: true });
  rmSync(join(root, key), { recursive: true, force: true });
  renameSync(staging, join(root, key));
  removeStaleBuilds(root, key);
  options.onProgress?.(`built the OpenTelemetry Collector in ${Math.round((Date.now() - started) / 1000)} s`);
  return binary;
}
