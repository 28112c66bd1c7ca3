import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { descendants, stillAlive } from '../support/processes.js';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

describe('airlock dev cluster', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'prints the ready line with a working kubeconfig, and on %s stops every process it started',
    async (signal) => {
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
        expect(stillAlive(started)).toEqual([]);
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  );
});
