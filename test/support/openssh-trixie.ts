import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Mediator, SshResult, SshUser } from './mediator-harness.js';
import { sshArgs } from './mediator-harness.js';

/**
 * A current OpenSSH client (10.x) for interop tests, next to the machine's
 * own (Debian 12: 9.2): a Debian trixie minbase with trixie-backports'
 * openssh-client, built once by debootstrap into a cache folder the tests
 * own and keyed by this recipe, and run through chroot with the host's
 * network (the mediator listens on 127.0.0.1). Needs root and debootstrap
 * (.ci/run installs it); without them the tests that use it fail, loudly.
 */
const MIRROR = process.env.AIRLOCK_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const RECIPE = {
  suite: 'trixie',
  variant: 'minbase',
  mirror: MIRROR,
  // trixie itself ships 10.0p2, older than the post-quantum warning (10.1) and the rekey rule (10.3).
  client: { suite: 'trixie-backports', package: 'openssh-client' },
};
const CACHE = join(homedir(), '.cache', 'airlock', 'openssh-trixie');
const DONE = 'airlock-recipe.json';

function run(command: string, args: string[], what: string): string {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(
      `${what} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** The root folder of the trixie client, built on first use. */
export function trixieRoot(): string {
  const key = createHash('sha256').update(JSON.stringify(RECIPE)).digest('hex').slice(0, 16);
  const root = join(CACHE, key);
  if (existsSync(join(root, DONE))) return root;
  if (process.getuid?.() !== 0) throw new Error('the OpenSSH 10 client needs root (debootstrap, chroot)');
  mkdirSync(CACHE, { recursive: true });
  // Built beside the final folder and renamed into place, so a failed build leaves no half root.
  const building = mkdtempSync(join(CACHE, `${key}.building-`));
  try {
    run('debootstrap', ['--variant=minbase', RECIPE.suite, building, MIRROR], 'debootstrap trixie');
    copyFileSync('/etc/resolv.conf', join(building, 'etc', 'resolv.conf'));
    writeFileSync(
      join(building, 'etc', 'apt', 'sources.list.d', 'backports.list'),
      `deb ${MIRROR} ${RECIPE.client.suite} main\n`,
    );
    run('chroot', [building, 'apt-get', 'update', '-qq'], 'apt-get update in the trixie root');
    run(
      'chroot',
      [
        building,
        'apt-get',
        'install',
        '-y',
        '-qq',
        '--no-install-recommends',
        '-t',
        RECIPE.client.suite,
        RECIPE.client.package,
      ],
      'installing openssh-client in the trixie root',
    );
    writeFileSync(join(building, DONE), `${JSON.stringify(RECIPE)}\n`);
    renameSync(building, root);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  return root;
}

/** `ssh -V` of the trixie client, e.g. `OpenSSH_10.6p2 Debian-1~bpo13+1, OpenSSL 3.5.9 …`. */
export function trixieSshVersion(): string {
  const result = spawnSync('chroot', [trixieRoot(), 'ssh', '-V'], { encoding: 'utf8' });
  return result.stderr.trim();
}

/**
 * Runs the trixie client against the mediator like `ssh()` of the mediator
 * harness: the user's key, certificate and the pinned host key are copied
 * into the root first, since the client sees only the chroot.
 */
export function trixieSsh(
  mediator: Pick<Mediator, 'port' | 'knownHosts'>,
  user: SshUser,
  command: string[],
  options: { extra?: string[]; timeoutMs?: number } = {},
): Promise<SshResult> {
  const root = trixieRoot();
  const inside = mkdtempSync(join(root, 'tmp', 'airlock-'));
  const path = (name: string) => `/tmp/${inside.split('/').pop()}/${name}`;
  copyFileSync(user.keyPath, join(inside, 'id_ed25519'));
  copyFileSync(user.certPath, join(inside, 'id_ed25519-cert.pub'));
  copyFileSync(mediator.knownHosts, join(inside, 'known_hosts'));
  const args = sshArgs(
    { ...mediator, knownHosts: path('known_hosts') } as Mediator,
    { ...user, keyPath: path('id_ed25519'), certPath: path('id_ed25519-cert.pub') },
    options.extra,
  );
  return new Promise((resolve) => {
    const child = spawn('chroot', [root, 'ssh', ...args, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(inside, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
