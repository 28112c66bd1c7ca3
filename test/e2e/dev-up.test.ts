import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { descendants, killTree, processes } from '../support/processes.js';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

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
  it('brings up cluster, executor, mediator and broker; the broker-issued demo certificate works over ssh via the generated config; the mediator holds no Kubernetes credential; SIGTERM leaves nothing running; a second dev up reuses the CAs and keys', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-dev-up-'));
    const child = spawn(process.execPath, [airlock, 'dev', 'up', '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let again: ReturnType<typeof spawn> | undefined;
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const port = /^ready ssh=(\d+) /.exec(ready)?.[1];
      expect(port).toBeDefined();
      // The demo certificate came from the broker: dev up signed in as oncall (device flow),
      // made an auto-approved request and fetched its certificate; it never signs one itself.
      const certPath = join(stateDir, 'users', 'oncall', 'id_ed25519-cert.pub');
      const described = await run('ssh-keygen', ['-L', '-f', certPath]);
      expect(described.stdout).toMatch(/Key ID: "airlock:req-[0-9a-f]+:oncall"/);
      const brokerTrail = readFileSync(join(stateDir, 'audit', 'broker.jsonl'), 'utf8');
      expect(brokerTrail).toContain('"event":"cert.issued"');
      // Only the broker reads the SSH user CA private key; the tiers get its public key.
      const configs = (name: string) => readFileSync(join(stateDir, 'config', name), 'utf8');
      const sshCa = join(stateDir, 'keys', 'ca', 'ssh-user');
      expect(JSON.parse(configs('broker.json')).sshCaDir).toBe(sshCa);
      for (const tier of ['mediator.json', 'executor.json']) {
        expect(JSON.parse(configs(tier)).sshUserCaKeysFile).toBe(join(sshCa, 'trusted-user-ca-keys.pub'));
        expect(JSON.parse(configs(tier)).revocation.denyListFiles).toEqual([
          JSON.parse(configs('broker.json')).denyListFile,
        ]);
      }
      const sshConfig = readFileSync(join(stateDir, 'ssh_config'), 'utf8');
      expect(sshConfig).toContain(`Port ${port}`);
      const sshBase = ['-F', join(stateDir, 'ssh_config'), '-o', 'BatchMode=yes', 'airlock'];
      const pods = await run('ssh', [...sshBase, 'pods', '-o', 'json']);
      expect(pods.stderr).toBe('');
      const names = (JSON.parse(pods.stdout) as { items: { metadata: { name: string } }[] }).items
        .map((p) => p.metadata.name)
        .sort();
      expect(names).toEqual(['payments-api-0', 'payments-worker-0']);
      const billing = await run('ssh', [...sshBase, 'exec', 'billing/billing-api-0', '--', 'ps', 'aux']);
      expect(billing.code).toBe(77);

      for (const tier of ['mediator', 'executor', 'broker']) {
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
      // Latency histograms: the executor's decision per intent, the mediator's session set-up and command.
      expect(executorMetrics).toContain(
        'airlock_executor_intent_authorize_duration_seconds_count{action="list",decision="allow"} 1',
      );
      const mediatorMetrics = await (
        await fetch(`http://127.0.0.1:${/mediator-ops=(\d+)/.exec(ready)?.[1]}/metrics`)
      ).text();
      expect(mediatorMetrics).toContain(
        'airlock_mediator_session_open_duration_seconds_count{result="opened"} 2',
      );
      expect(mediatorMetrics).toContain('airlock_mediator_command_duration_seconds_count{command="pods"} 1');
      expect(mediatorMetrics).toContain('airlock_mediator_command_duration_seconds_count{command="exec"} 1');
      // The broker issued the demo certificate at start-up (login, auto-approved request, cert).
      const brokerMetrics = await (
        await fetch(`http://127.0.0.1:${/broker-ops=(\d+)/.exec(ready)?.[1]}/metrics`)
      ).text();
      expect(brokerMetrics).toContain('airlock_broker_certificates_issued_total{kind="ssh"} 1');
      expect(brokerMetrics).toContain('airlock_broker_request_transitions_total{from="new",to="approved"} 1');

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

      // A second dev up reuses the state: the CAs and keys stay, a fresh certificate comes from the broker.
      const keptFiles = [
        'ca/ssh-user/keyring.json',
        'broker-ca.pem',
        'ca/mediator/keyring.json',
        'ca/executor/keyring.json',
      ];
      const kept = keptFiles.map((f) => readFileSync(join(stateDir, 'keys', f), 'utf8'));
      const userKey = readFileSync(join(stateDir, 'users', 'oncall', 'id_ed25519'), 'utf8');
      const second = spawn(process.execPath, [airlock, 'dev', 'up', '--state-dir', stateDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      again = second;
      let secondStderr = '';
      second.stderr.on('data', (d) => {
        secondStderr += d;
      });
      const againExited = new Promise<number | null>((resolve) => second.on('exit', (code) => resolve(code)));
      await new Promise<string>((resolve, reject) => {
        createInterface({ input: second.stdout }).once('line', resolve);
        void againExited.then((code) => reject(new Error(`second dev up exited ${code}`)));
      });
      expect(keptFiles.map((f) => readFileSync(join(stateDir, 'keys', f), 'utf8'))).toEqual(kept);
      // It says so, rather than claiming to create them.
      expect(secondStderr).toContain(`reusing the dev CAs and keys in ${join(stateDir, 'keys')}\n`);
      expect(secondStderr).not.toContain('creating dev CAs and keys');
      expect(readFileSync(join(stateDir, 'users', 'oncall', 'id_ed25519'), 'utf8')).toBe(userKey);
      const podsAgain = await run('ssh', [...sshBase, 'pods', '-o', 'json']);
      expect(podsAgain.code).toBe(0);
      const startedAgain = descendants(second.pid!);
      second.kill('SIGTERM');
      expect(await againExited).toBe(0);
      await sleep(300);
      const aliveAgain = processes();
      expect(startedAgain.filter((pid) => aliveAgain.has(pid))).toEqual([]);
    } finally {
      killTree(again?.pid);
      killTree(child.pid);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
