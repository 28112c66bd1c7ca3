import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { runLoggedCommand } from './logged-command.js';

/** The Kubernetes release the hermetic cluster is built from (test/cluster/go.mod). */
export const KUBERNETES_VERSION = 'v1.37.2';

/** The programs test/cluster builds, by name. */
export const CLUSTER_BINARIES = {
  etcd: './cmd/etcd',
  'fake-kubelet': './cmd/fake-kubelet',
  'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
  'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
  kubectl: 'k8s.io/kubernetes/cmd/kubectl',
  // The real node (`airlock dev cluster --node real`, services/cli/dev/real-node.ts).
  kubelet: 'k8s.io/kubernetes/cmd/kubelet',
  'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
  'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
  pause: './cmd/pause',
} as const;

export type ClusterBinary = keyof typeof CLUSTER_BINARIES;
export type ClusterBinaries = Record<ClusterBinary, string>;

function versionLdflags(): string {
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  const pkg = 'k8s.io/component-base/version';
  return [
    '-s -w',
    `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}`,
  ].join(' ');
}

/**
 * The cache key of a build: everything that can change a binary (go.mod,
 * go.sum, the harness sources, the linker flags and the Go version).
 */
export function buildKey(moduleDir: string, goVersion: string): string {
  const hash = createHash('sha256');
  hash.update(`${goVersion}\n${versionLdflags()}\n`);
  const files = ['go.mod', 'go.sum', ...listGoSources(join(moduleDir, 'cmd'), moduleDir)];
  for (const file of files.sort()) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(moduleDir, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

function listGoSources(dir: string, base: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listGoSources(path, base));
    else if (entry.name.endsWith('.go')) found.push(relative(base, path));
  }
  return found;
}

/** `go version` output; CLUSTER_GO_MISSING when Go is not installed. */
export function goVersion(): string {
  const result = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new AirlockError(
      'CLUSTER_GO_MISSING',
      'Go >= 1.26 is required to build the hermetic cluster (test/cluster); install it and put `go` on PATH',
      { cause: result.error },
    );
  }
  return result.stdout.trim();
}

export interface EnsureBinariesOptions {
  /** Called with short progress lines ("building ...", then a heartbeat every 30 s). */
  onProgress?: (line: string) => void;
}

/**
 * Where built binaries are kept: outside the checkout, so every clone on a
 * machine (CI clones afresh) shares one build per key.
 */
export function clusterCacheDir(): string {
  return (
    process.env.AIRLOCK_CLUSTER_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airlock', 'cluster')
  );
}

/**
 * Returns the paths of the cluster's binaries, building them first when the
 * cache (`clusterCacheDir()/<key>/`) does not hold a build of the current
 * sources. A cold build takes minutes; a warm call only hashes the sources.
 */
export async function ensureClusterBinaries(options: EnsureBinariesOptions = {}): Promise<ClusterBinaries> {
  const moduleDir = join(repoRoot(), 'test', 'cluster');
  const key = buildKey(moduleDir, goVersion());
  const binRoot = clusterCacheDir();
  const binDir = join(binRoot, key);
  const binaries = Object.fromEntries(
    Object.keys(CLUSTER_BINARIES).map((name) => [name, join(binDir, name)]),
  ) as ClusterBinaries;
  if (Object.values(binaries).every((path) => existsSync(path))) return binaries;

  await mkdir(binRoot, { recursive: true });
  const staging = `${binDir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const logPath = join(binRoot, `build-${key}.log`);
  options.onProgress?.(
    `building the hermetic cluster (Kubernetes ${KUBERNETES_VERSION}) into ${binDir}; ` +
      `a cold build takes 10-25 minutes, log: ${logPath}`,
  );
  const started = Date.now();
  const args = [
    'build',
    // -v: each package's name as it is compiled, which the heartbeat reports as the last step.
    '-v',
    '-trimpath',
    '-ldflags',
    versionLdflags(),
    '-o',
    `${staging}/`,
    ...Object.values(CLUSTER_BINARIES),
  ];
  const status = await runLoggedCommand('go', args, {
    cwd: moduleDir,
    env: { ...process.env, CGO_ENABLED: '0' },
    logPath,
    what: 'building the hermetic cluster',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  if (status !== 0) {
    buildFailed(staging, logPath, `go build of test/cluster failed (exit ${status}); see ${logPath}`);
  }
  rmSync(binDir, { recursive: true, force: true });
  renameSync(staging, binDir);
  removeStaleBuilds(binRoot, key);
  options.onProgress?.(`built the hermetic cluster in ${Math.round((Date.now() - started) / 1000)} s`);
  return binaries;
}

/** A failed build: its staging directory removed, CLUSTER_BUILD_FAILED with the last 30 lines of its log. */
export function buildFailed(staging: string, logPath: string, message: string): never {
  rmSync(staging, { recursive: true, force: true });
  const tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
  throw new AirlockError('CLUSTER_BUILD_FAILED', message, { detail: tail });
}

/** Removes every build under `binRoot` but `keep`. */
export function removeStaleBuilds(binRoot: string, keep: string): void {
  for (const entry of readdirSync(binRoot)) {
    const path = join(binRoot, entry);
    // Another process may be building another key right now: leave staging dirs alone.
    if (entry !== keep && !entry.includes('.building-') && statSync(path).isDirectory()) {
      rmSync(path, { recursive: true, force: true });
    }
  }
}
