import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

function processes(): Map<number, { ppid: number; cmdline: string }> {
  const found = new Map<number, { ppid: number; cmdline: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppidText] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited; only its reaping is left (to init, once orphaned).
      if (state === 'Z') continue;
      const ppid = Number(ppidText);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      found.set(Number(entry), { ppid, cmdline });
    } catch {
      // ended while we looked
    }
  }
  return found;
}

function descendants(root: number): number[] {
  const all = processes();
  const result: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, info] of all) {
      if (info.ppid === parent) {
        result.push(pid);
        queue.push(pid);
      }
    }
  }
  return result;
}

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('airlock dev up (npm start)', () => {
  it('brings up cluster, executor and mediator; the demo user works over ssh; the mediator holds no Kubernetes credential; SIGTERM leaves nothing running', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-dev-up-'));
    const child = spawn(process.execPath, [airlock, 'dev', 'up', '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const port = /^ready ssh=(\d+) /.exec(ready)?.[1];
      expect(port).toBeDefined();
      const sshBase = [
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-p',
        port!,
        '-i',
        join(stateDir, 'users', 'oncall', 'id_ed25519'),
        '-o',
        `UserKnownHostsFile=${join(stateDir, 'known_hosts')}`,
        '-o',
        'StrictHostKeyChecking=yes',
        'oncall@127.0.0.1',
      ];
      const pods = await run('ssh', [...sshBase, 'pods', '-o', 'json']);
      expect(pods.stderr).toBe('');
      const names = (JSON.parse(pods.stdout) as { items: { metadata: { name: string } }[] }).items
        .map((p) => p.metadata.name)
        .sort();
      expect(names).toEqual(['payments-api-0', 'payments-worker-0']);
      const billing = await run('ssh', [...sshBase, 'exec', 'billing/billing-api-0', '--', 'ps', 'aux']);
      expect(billing.code).toBe(77);

      for (const tier of ['mediator', 'executor']) {
        const ops = new RegExp(`${tier}-ops=(\\d+)`).exec(ready)?.[1];
        const readyz = await fetch(`http://127.0.0.1:${ops}/readyz`);
        expect(await readyz.text()).toBe('ready\n');
        const metrics = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
        expect(metrics).toContain(`airlock_${tier}_`);
      }
      const executorMetrics = await (
        await fetch(`http://127.0.0.1:${/executor-ops=(\d+)/.exec(ready)?.[1]}/metrics`)
      ).text();
      expect(executorMetrics).toContain(
        'airlock_executor_intents_total{action="list",code="",decision="allow"} 1',
      );

      const all = processes();
      const mediator = descendants(child.pid!).find((pid) =>
        all.get(pid)?.cmdline.includes('mediator/main.js'),
      );
      expect(mediator).toBeDefined();
      const environ = readFileSync(`/proc/${mediator}/environ`, 'utf8').split('\0');
      expect(environ.filter((line) => /^KUBE/.test(line))).toEqual([]);
      const executorToken = JSON.parse(readFileSync(join(stateDir, 'config', 'executor.kubeconfig'), 'utf8'))
        .users[0].user.token as string;
      const mediatorConfig = readFileSync(join(stateDir, 'config', 'mediator.json'), 'utf8');
      expect(mediatorConfig).not.toContain('kubeconfig');
      expect(mediatorConfig).not.toContain(executorToken);
      expect(environ.join('\n')).not.toContain(executorToken);

      const started = descendants(child.pid!);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await sleep(300);
      const alive = processes();
      expect(started.filter((pid) => alive.has(pid)).map((pid) => alive.get(pid)?.cmdline)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
