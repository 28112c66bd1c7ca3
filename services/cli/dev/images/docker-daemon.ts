import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../../../core/errors.js';
import { logTail, ProcessGroup } from '../child-processes.js';
import { haveCommand, tryRun } from '../host-commands.js';
import { unmountBelow } from '../real-node/host-state.js';

/** A Docker engine started for one image build, owned by this process. */
export interface DockerDaemon {
  /** Environment for the `docker` CLI: DOCKER_HOST points at this daemon only. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Starts `dockerd` by hand with its own data root (kept in `dataRoot`, so
 * built layers are reused by the next build), its own exec root and unix
 * socket (in a fresh temp dir), and without touching the host's network:
 * no bridge, no iptables rules, no IP forwarding. Builds that download run
 * with `--network host`. Resolves once the daemon answers `docker version`.
 */
export async function startDockerDaemon(dataRoot: string, logPath: string): Promise<DockerDaemon> {
  for (const tool of ['dockerd', 'docker']) {
    if (!haveCommand(tool)) {
      throw new AirlockError(
        'IMAGE_BUILD_FAILED',
        `${tool} is not installed; on Debian: apt-get install docker.io (see README, "Images")`,
      );
    }
  }
  mkdirSync(dataRoot, { recursive: true, mode: 0o700 });
  // dockerd's containerd makes /run/containerd/s for its shims' sockets: removed again if it made it.
  const createdDirs = ['/run/containerd/s', '/run/containerd'].filter((dir) => !existsSync(dir));
  // A short path: the socket's path must fit in a sockaddr_un.
  const execRoot = mkdtempSync(join(tmpdir(), 'airlock-dockerd-'));
  const socket = join(execRoot, 'docker.sock');
  const group = new ProcessGroup();
  group.start(
    'dockerd',
    'dockerd',
    [
      `--data-root=${dataRoot}`,
      `--exec-root=${execRoot}`,
      `--pidfile=${join(execRoot, 'dockerd.pid')}`,
      `-H=unix://${socket}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--userland-proxy=false',
    ],
    logPath,
  );
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: '0' };
  const stop = async () => {
    await group.stopAll(15_000);
    // dockerd leaves its default network namespace mounted under the exec root.
    unmountBelow(execRoot);
    unmountBelow(dataRoot);
    rmSync(execRoot, { recursive: true, force: true });
    for (const dir of createdDirs) {
      try {
        rmdirSync(dir);
      } catch {
        // Not empty: in use by another containerd.
      }
    }
  };
  const crashed = group.watchForCrash();
  crashed.catch(() => {});
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answered = tryRun('docker', ['version', '--format', '{{.Server.Version}}'], env);
    if (answered) return { env, stop };
    const dead = await Promise.race([
      crashed.then(
        () => false,
        () => true,
      ),
      sleep(250, false),
    ]);
    if (dead || Date.now() > deadline) {
      await stop();
      throw new AirlockError('IMAGE_BUILD_FAILED', `dockerd did not become ready; log: ${logPath}`, {
        detail: logTail(logPath, 30),
      });
    }
  }
}
