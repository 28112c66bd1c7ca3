/**
 * A dev stack stops with whatever started it. A supervisor's SIGTERM to
 * `npx airlock dev cluster` or `npm start` reaches only the npm wrapper it
 * started; airlock notices its starter is gone and stops everything. And if
 * airlock itself is killed outright, the cluster binaries get their
 * parent-death signal instead of running on, reparented to init.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { descendants, killTree, processes, stillAlive } from '../support/processes.js';

const root = join(import.meta.dirname, '..', '..');

/** Starts `command`, resolves once it prints a `ready …` line on stdout. */
async function startUntilReady(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
  return child;
}

/** Waits (bounded) until none of `pids` is alive; returns the command lines of those still alive. */
async function survivors(pids: readonly number[], withinMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + withinMs;
  while (stillAlive(pids).length > 0 && Date.now() < deadline) await sleep(200);
  const live = processes();
  return stillAlive(pids).map((pid) => live.get(pid)?.cmdline ?? String(pid));
}

const cmdlines = (pids: readonly number[]) => {
  const live = processes();
  return pids.map((pid) => live.get(pid)?.cmdline ?? '');
};

describe('the dev stack stops with its starter', () => {
  it('SIGTERM to `npx airlock dev cluster` (the npm wrapper only) stops airlock and every cluster binary', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-stop-npx-'));
    let npx: ChildProcess | undefined;
    try {
      npx = await startUntilReady('npx', ['airlock', 'dev', 'cluster', '--state-dir', stateDir]);
      const started = descendants(npx.pid!);
      expect(cmdlines(started).some((c) => c.includes('kube-apiserver'))).toBe(true);
      expect(cmdlines(started).some((c) => c.includes('bin/airlock'))).toBe(true);
      process.kill(npx.pid!, 'SIGTERM'); // the wrapper alone, as a supervisor does
      expect(await survivors(started)).toEqual([]);
    } finally {
      killTree(npx?.pid);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('SIGKILL to airlock itself: the cluster binaries die with it (parent-death signal)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-stop-kill-'));
    let airlock: ChildProcess | undefined;
    try {
      airlock = await startUntilReady(process.execPath, [
        'bin/airlock.js',
        'dev',
        'cluster',
        '--state-dir',
        stateDir,
      ]);
      const started = descendants(airlock.pid!);
      expect(cmdlines(started).some((c) => c.includes('etcd'))).toBe(true);
      airlock.kill('SIGKILL');
      expect(await survivors(started)).toEqual([]);
    } finally {
      killTree(airlock?.pid);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('SIGTERM to `npm start` (the npm wrapper only) stops the cluster, the tiers and airlock', async () => {
    const work = mkdtempSync(join(tmpdir(), 'airlock-stop-npm-'));
    let npm: ChildProcess | undefined;
    try {
      npm = await startUntilReady('npm', ['start', '--', '--state-dir', join(work, 'state')]);
      const started = descendants(npm.pid!);
      expect(cmdlines(started).some((c) => c.includes('broker/main.js'))).toBe(true);
      process.kill(npm.pid!, 'SIGTERM');
      expect(await survivors(started, 60_000)).toEqual([]);
    } finally {
      killTree(npm?.pid);
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
