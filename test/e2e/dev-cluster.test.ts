import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** Every live descendant of a process, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('airlock dev cluster', () => {
  it.each([
    'SIGINT',
    'SIGTERM',
  ] as const)('prints the ready line with a working kubeconfig, and on %s stops every process it started', async (signal) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-dev-cluster-'));
    try {
      const child = spawn(process.execPath, [airlock, 'dev', 'cluster', '--state-dir', stateDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const lines = createInterface({ input: child.stdout });
      const first = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        void exited.then((code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
      });
      expect(first).toBe(`ready kubeconfig=${join(stateDir, 'kubeconfig')}`);
      expect(existsSync(join(stateDir, 'kubeconfig'))).toBe(true);
      expect(existsSync(join(stateDir, 'kube-audit.log'))).toBe(true);

      const started = descendants(child.pid!);
      // etcd, kube-apiserver, kube-controller-manager, fake-kubelet
      expect(started.length).toBeGreaterThanOrEqual(4);

      child.kill(signal);
      expect(await exited).toBe(0);
      await sleep(200);
      expect(started.filter(alive)).toEqual([]);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
