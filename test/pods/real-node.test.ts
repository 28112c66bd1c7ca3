import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  kubepodsCgroups,
  linkExists,
  listChains,
  mountsBelow,
  processesMentioning,
  readSysctls,
} from '../../services/cli/dev/real-node/host-state.js';
import { POD_NETWORK, REAL_NODE_LOCK } from '../../services/cli/dev/real-node/real-node.js';
import { run } from './pods-support.js';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** Starts `airlock dev cluster --node real`, runs one pod on it, and returns how to end it. */
async function startRealCluster(stateDir: string) {
  const child = spawn(
    process.execPath,
    [airlock, 'dev', 'cluster', '--node', 'real', '--state-dir', stateDir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal)),
  );
  const ready = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const kubeconfig = /kubeconfig=(\S+)/.exec(ready)?.[1] ?? '';
  return { child, exited, kubeconfig, stderr: () => stderr };
}

async function runOnePod(stateDir: string, kubeconfig: string): Promise<void> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello', namespace: 'default' },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'airlock-executor:dev',
          imagePullPolicy: 'Never',
          command: ['sh', '-c', 'echo hello from a real pod; exec sleep 3600'],
          securityContext: { runAsUser: 10001, readOnlyRootFilesystem: true },
        },
      ],
    },
  };
  writeFileSync(join(stateDir, 'pod.json'), JSON.stringify(pod));
  const kc = ['--kubeconfig', kubeconfig];
  const bin = await kubectlBinary();
  expect((await run(bin, [...kc, 'apply', '-f', join(stateDir, 'pod.json')])).code).toBe(0);
  const waited = await run(bin, [...kc, 'wait', '--for=condition=Ready', 'pod/hello', '--timeout=120s']);
  expect(waited.stderr).toBe('');
  const logs = await run(bin, [...kc, 'logs', 'hello']);
  expect(logs.stdout).toContain('hello from a real pod');
  const exec = await run(bin, [...kc, 'exec', 'hello', '--', 'id', '-u']);
  expect(exec.stdout.trim()).toBe('10001');
}

/** The kubectl the cluster was built with (from the binary cache). */
async function kubectlBinary(): Promise<string> {
  const { ensureClusterBinaries } = await import('../../services/cli/dev/cluster-binaries.js');
  return (await ensureClusterBinaries()).kubectl;
}

function hostSnapshot() {
  const chains = listChains();
  const ours = Object.fromEntries(
    Object.entries(chains).map(([table, names]) => [
      table,
      names.filter((n) => /^(KUBE-|CNI-)/.test(n)).sort(),
    ]),
  );
  return { sysctls: readSysctls(), chains: ours, cgroups: kubepodsCgroups() };
}

function expectNothingLeft(stateDir: string, before: ReturnType<typeof hostSnapshot>): void {
  expect(linkExists(POD_NETWORK.bridge)).toBe(false);
  expect(mountsBelow(stateDir)).toEqual([]);
  expect(processesMentioning(join(stateDir, 'node', 'containerd', 'containerd.sock'))).toEqual([]);
  expect(existsSync(REAL_NODE_LOCK)).toBe(false);
  const after = hostSnapshot();
  expect(after.cgroups).toEqual(before.cgroups);
  expect(after.chains).toEqual(before.chains);
  expect(after.sysctls).toEqual(before.sysctls);
}

describe('airlock dev cluster --node real', () => {
  it('runs a real pod (logs, exec as its user); SIGTERM stops every process and leaves no bridge, iptables chain, mount or kubepods cgroup, and restores the sysctls', async () => {
    const before = hostSnapshot();
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-real-node-'));
    try {
      const cluster = await startRealCluster(stateDir);
      // The kubelet and kube-proxy changed the host while they ran.
      expect(linkExists(POD_NETWORK.bridge)).toBe(true);
      await runOnePod(stateDir, cluster.kubeconfig);
      expect(mountsBelow(stateDir).length).toBeGreaterThan(0);
      cluster.child.kill('SIGTERM');
      expect(await cluster.exited).toBe(0);
      expectNothingLeft(stateDir, before);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('the cluster process killed with SIGKILL: its janitor still undoes everything', async () => {
    const before = hostSnapshot();
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-real-node-'));
    try {
      const cluster = await startRealCluster(stateDir);
      await runOnePod(stateDir, cluster.kubeconfig);
      cluster.child.kill('SIGKILL');
      await cluster.exited;
      for (let i = 0; i < 300 && existsSync(REAL_NODE_LOCK); i += 1) await sleep(100);
      expectNothingLeft(stateDir, before);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
