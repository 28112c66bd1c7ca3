import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubernetesObjectApi, VersionApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ClusterObjectsLedger } from '../../services/cli/dev/dev-cluster-target.js';
import { adminKubeConfig, clusterInfo } from '../support/kube.js';
import { descendants, killTree, processes } from '../support/processes.js';
import { parseWalkthrough, type Ran, shell } from '../support/walkthrough.js';

const root = join(import.meta.dirname, '..', '..');
const airlock = join(root, 'bin', 'airlock.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('airlock dev up --kubeconfig (an existing cluster)', () => {
  it('runs the gateway on the cluster of the kubeconfig, the printed walkthrough works, SIGTERM leaves the cluster running, and dev down deletes exactly what dev up created', async () => {
    const { kubeconfigPath, kubectlPath, nodeName } = clusterInfo();
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    // An object that exists before dev up: dev up uses it and dev down must leave it.
    const preExisting = await core
      .createNamespace({
        body: { metadata: { name: 'ops', labels: { 'test.airlock.dev/pre-existing': 'yes' } } },
      })
      .then(() => true)
      .catch(() => false);
    expect(preExisting).toBe(true);

    const work = mkdtempSync(join(tmpdir(), 'airlock-dev-kubeconfig-'));
    const stateDir = join(work, 'state');
    // A newcomer with their own cluster has kubectl on PATH; the walkthrough prints plain `kubectl`.
    const env = {
      ...process.env,
      AIRLOCK_CONFIG_DIR: join(work, 'oncall-config'),
      PATH: `${dirname(kubectlPath)}:${process.env.PATH}`,
    };
    const child = spawn(
      process.execPath,
      [airlock, 'dev', 'up', '--state-dir', stateDir, '--kubeconfig', kubeconfigPath, '--node', nodeName],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const run = async (line: string): Promise<Ran> => {
      const ran = await shell(line, { cwd: root, env }).done;
      if (ran.code !== 0) throw new Error(`${line}\nexit ${ran.code}\n${ran.stdout}\n${ran.stderr}`);
      return ran;
    };
    const login = async (loginLine: string, approveLine: string): Promise<string> => {
      let loggedIn: Promise<Ran> | undefined;
      const code = await new Promise<string>((resolve) => {
        loggedIn = shell(loginLine, {
          cwd: root,
          env,
          onStderr: (text) => {
            const found = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(text)?.[1];
            if (found) resolve(found);
          },
        }).done;
      });
      await run(approveLine.replace(/CODE$/, code));
      const ran = await loggedIn!;
      expect(ran.code).toBe(0);
      return ran.stdout;
    };
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      expect(ready).toContain(`kubeconfig=${kubeconfigPath}`);
      const steps = parseWalkthrough(stderr);
      const step = (n: number): string[] => steps.get(n) ?? [];
      expect([...steps.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(stderr).toContain('Ctrl-C stops airlock (your cluster keeps running)');

      // What dev up recorded: everything it created, and not the namespace that was there before.
      const ledger = JSON.parse(
        readFileSync(join(stateDir, 'cluster-objects.json'), 'utf8'),
      ) as ClusterObjectsLedger;
      const recorded = ledger.objects.map((o) => `${o.kind} ${o.namespace ?? ''}/${o.name}`);
      expect(recorded).toEqual(
        expect.arrayContaining([
          'Namespace /payments',
          'Namespace /billing',
          'Namespace /airlock-system',
          'ServiceAccount ops/incident-bot',
          'ClusterRole /airlock-executor',
          'ClusterRole /jit-cluster-read',
          'RoleBinding payments/oncall-debug',
          'Pod payments/payments-api-0',
        ]),
      );
      expect(recorded).not.toContain('Namespace /ops');

      // 1-3: sign in, an auto-approved request, the certificate.
      const [loginLine, approveLine] = step(1);
      expect(await login(loginLine!, approveLine!)).toMatch(/^logged in as oncall/);
      const requested = await run(step(2)[0]!);
      const [id, status] = requested.stdout.split('\n')[0]!.split(/\s+/);
      expect(status).toBe('approved');
      await run(step(3)[0]!.replace(/(?<= )ID(?= |$)/, id!));

      // 4: ssh through the generated config, to the pods dev up created in this cluster.
      const [podsLine, execLine, logsLine, forwardLine] = step(4);
      const pods = JSON.parse((await run(`${podsLine} -o json`)).stdout) as {
        items: { metadata: { name: string } }[];
      };
      expect(pods.items.map((p) => p.metadata.name).sort()).toEqual(['payments-api-0', 'payments-worker-0']);
      expect((await run(execLine!)).stdout).toContain('PID');
      const logs = shell(logsLine!, { cwd: root, env });
      const firstLine = await new Promise<string>((resolve) => {
        logs.child.stdout!.on('data', (d: Buffer) => resolve(d.toString()));
      });
      expect(firstLine).toMatch(/^processed batch \d+/);
      logs.child.kill('SIGTERM');
      const local = await freePort();
      const forward = shell(forwardLine!.replace(/-L 8080:/, `-L ${local}:`), { cwd: root, env });
      try {
        let answer: Response | undefined;
        for (let i = 0; i < 50 && !answer; i++) {
          answer = await fetch(`http://127.0.0.1:${local}/`).catch(() => undefined);
          if (!answer) await sleep(200);
        }
        expect(answer?.status).toBe(200);
      } finally {
        forward.child.kill('SIGTERM');
      }

      // 6: the timeline of the request (no API server audit log: dev up cannot read this cluster's).
      const [revokeLine, timelineLine] = step(6);
      expect(timelineLine).not.toContain('kube-audit.log');
      const timeline = await run(
        timelineLine!.replace('--request ID', `--request ${id}`).replace('> timeline.html', ''),
      );
      expect(timeline.stdout).toContain('<html');
      await run(revokeLine!.replace(/ID$/, id!));

      // 7: the runbook identity, its token minted with the kubectl on PATH, signed in by TokenReview.
      const [keygen, tokenLine, botLogin] = step(7);
      expect(tokenLine).toContain(`kubectl --kubeconfig ${kubeconfigPath} create token incident-bot`);
      await run(keygen!);
      await run(tokenLine!);
      expect((await run(botLogin!)).stdout).toMatch(
        /^logged in as system:serviceaccount:ops:incident-bot \(groups: runbook-runners\)/,
      );

      // SIGTERM stops airlock's processes and leaves the cluster and its objects alone.
      const started = descendants(child.pid!);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await sleep(300);
      const alive = processes();
      expect(started.filter((pid) => alive.has(pid)).map((pid) => alive.get(pid)?.cmdline)).toEqual([]);
      expect((await admin.makeApiClient(VersionApi).getCode()).major).toBe('1');
      expect(
        (await core.readNamespacedPod({ namespace: 'payments', name: 'payments-api-0' })).metadata?.name,
      ).toBe('payments-api-0');

      // dev down deletes exactly the recorded objects, then the state.
      const down = await shell(`node bin/airlock.js dev down --state-dir ${stateDir}`, { cwd: root, env })
        .done;
      expect(down.stderr).toContain(
        `deleted ${ledger.objects.length} object(s) dev up created in ${ledger.server}`,
      );
      expect(down.code).toBe(0);
      expect(existsSync(stateDir)).toBe(false);
      for (const o of ledger.objects) {
        const left = await objects
          .read({
            apiVersion: o.apiVersion,
            kind: o.kind,
            metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) },
          })
          .catch((error: { code?: number }) => {
            if (error.code === 404) return undefined;
            throw error;
          });
        // Gone, or on its way out (a namespace terminates while its contents are removed).
        expect(
          left === undefined || left.metadata?.deletionTimestamp !== undefined,
          `${o.kind} ${o.name}`,
        ).toBe(true);
      }
      const ops = await core.readNamespace({ name: 'ops' });
      expect(ops.metadata?.deletionTimestamp).toBeUndefined();
      expect((await admin.makeApiClient(VersionApi).getCode()).major).toBe('1');
    } finally {
      killTree(child.pid);
      rmSync(work, { recursive: true, force: true });
      if (preExisting) await core.deleteNamespace({ name: 'ops' }).catch(() => {});
    }
  }, 240_000);

  it('refuses an unreadable kubeconfig and an unreachable cluster with a clear error, creating nothing', async () => {
    const work = mkdtempSync(join(tmpdir(), 'airlock-dev-kubeconfig-'));
    try {
      const up = (kubeconfig: string) =>
        shell(`node bin/airlock.js dev up --state-dir ${join(work, 'state')} --kubeconfig ${kubeconfig}`, {
          cwd: root,
          env: process.env,
        }).done;
      const missing = await up(join(work, 'missing.yaml'));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(
        `airlock: DEV_KUBECONFIG_INVALID: cannot read the kubeconfig ${join(work, 'missing.yaml')}`,
      );
      const port = await freePort(); // nothing listens there any more
      const unreachable = join(work, 'unreachable.yaml');
      const admin = readFileSync(clusterInfo().kubeconfigPath, 'utf8');
      writeFileSync(
        unreachable,
        admin.replace(/"https:\/\/127\.0\.0\.1:\d+"/, `"https://127.0.0.1:${port}"`),
      );
      const refused = await up(unreachable);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `airlock: DEV_CLUSTER_UNREACHABLE: cannot reach the Kubernetes API server https://127.0.0.1:${port}`,
      );
      expect(existsSync(join(work, 'state', 'cluster-objects.json'))).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});
