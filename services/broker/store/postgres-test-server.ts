/**
 * A throwaway PostgreSQL server for tests and benchmarks (Debian's
 * `postgresql` package: `initdb` and `postgres` under
 * /usr/lib/postgresql/<version>/bin, or `AIRLOCK_PG_BIN`). `initdb` in a
 * temporary directory, `postgres` listening on 127.0.0.1 on a free port and
 * on a Unix socket in that directory, trust authentication for loopback
 * only, stopped and removed by `stop()`.
 *
 * The server must not outlive the process that started it, even one killed
 * with SIGKILL: it runs under a small shell watchdog that polls this
 * process's pid once a second and, when it is gone, stops the server
 * (SIGQUIT, then SIGKILL) and removes the directory. PostgreSQL refuses to
 * run as root; as root the server runs as the `postgres` user (or `nobody`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../core/service/free-port.js';
import { createTestDatabase } from './testing.js';

/** A running test server. */
export interface PostgresTestServer {
  /** Superuser URL of database `postgres` over TCP (no password, no TLS). */
  readonly url: string;
  readonly port: number;
  /** A fresh, empty database; its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The directory of `initdb` and `postgres`, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.AIRLOCK_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** As root: the uid/gid to run the server as. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {}
  }
  throw new Error('running as root, and there is no postgres or nobody user to run PostgreSQL as');
}

type ServerUser = { uid: number; gid: number } | undefined;

/** `initdb` of a fresh cluster in `dir`/data (superuser `postgres`, trust auth); returns its path. */
function initDataDirectory(bin: string, dir: string, user: ServerUser): string {
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { ...as, stdio: 'pipe' },
  );
  return data;
}

/**
 * Writes the watchdog script into `dir`: `$1` is the test process; the
 * server is the watchdog's child. Either ending ends the other, and the
 * directory goes with them.
 */
function writeWatchdog(dir: string): string {
  const script = join(dir, 'watchdog.sh');
  writeFileSync(
    script,
    `#!/bin/sh
PARENT=$1
shift
"$@" &
PG=$!
trap 'kill -QUIT $PG 2>/dev/null; sleep 2; kill -KILL $PG 2>/dev/null; rm -rf "${dir}"; exit 0' TERM INT
while kill -0 "$PARENT" 2>/dev/null && kill -0 $PG 2>/dev/null; do sleep 1; done
kill -QUIT $PG 2>/dev/null; sleep 2; kill -KILL $PG 2>/dev/null
rm -rf "${dir}"
`,
    { mode: 0o755 },
  );
  return script;
}

/**
 * Spawns `postgres` with `args` under the watchdog `script`. The watchdog
 * runs as root (to remove the directory) only when we are root; the server
 * as `user`. `stderr()` is the server's last 4000 characters of stderr.
 */
function spawnUnderWatchdog(
  script: string,
  bin: string,
  user: ServerUser,
  args: readonly string[],
): { child: ChildProcess; stderr(): string } {
  const postgres = join(bin, 'postgres');
  const child = spawn(
    'sh',
    [script, String(process.pid), ...(user ? ['setpriv'] : [postgres])].concat(
      user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', postgres, ...args] : [...args],
    ),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return { child, stderr: () => stderr };
}

/** Waits until `url` accepts a connection; stops the server and throws when it exits or 30 s pass. */
async function waitUntilAccepting(
  url: string,
  server: { child: ChildProcess; stderr(): string },
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (server.child.exitCode !== null || Date.now() - started > 30_000) {
        server.child.kill('SIGTERM');
        throw new Error(`PostgreSQL did not start: ${server.stderr()}`);
      }
      await sleep(100);
    }
  }
}

/** Starts a server. Throws (with what to install) when PostgreSQL is missing. */
export async function startPostgresTestServer(
  options: {
    /** Keep PostgreSQL's fsync and synchronous commit (benchmarks); default off (tests: faster, nothing to keep). */
    durable?: boolean;
  } = {},
): Promise<PostgresTestServer> {
  const bin = postgresBinDir();
  if (bin === undefined) {
    throw new Error('PostgreSQL is not installed: apt-get install postgresql (or set AIRLOCK_PG_BIN)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  const user = serverUser();
  const data = initDataDirectory(bin, dir, user);
  const port = await freePort();
  const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'max_connections=200'];
  if (!options.durable)
    args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server = spawnUnderWatchdog(writeWatchdog(dir), bin, user, args);
  const { child } = server;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitUntilAccepting(url, server);
  let databases = 0;
  return {
    url,
    port,
    createDatabase: (name = `airlock_${process.pid}_${++databases}`) => createTestDatabase(url, name),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
