import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PodsStack, startPodsStack } from '../../services/cli/dev/pods/pods-stack.js';
import { verifyAuditTrail } from '../../services/core/audit/verify.js';
import { followWorkerLogs, freePort, reissueOncall, run } from './pods-support.js';

const airlock = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
const NS = 'airlock-system';
const EXECUTOR_LABEL = 'app.kubernetes.io/name=airlock-executor';

/**
 * The gateway as the pods of deploy/overlays/dev on the hermetic cluster's
 * real node (`airlock dev up --pods`), used over the real OpenSSH client
 * through the loopback relay to the mediator Service.
 */
describe('airlock as real pods (deploy/overlays/dev)', () => {
  let stack: PodsStack;
  let stateDir: string;
  let ssh: (...args: string[]) => ReturnType<typeof run>;
  let kubectl: (...args: string[]) => ReturnType<typeof run>;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'airlock-pods-'));
    stack = await startPodsStack(stateDir, (line) => process.stderr.write(`[pods] ${line}\n`));
    ssh = (...args) => run('ssh', ['-F', stack.sshConfigPath, '-o', 'BatchMode=yes', ...args]);
    kubectl = (...args) =>
      run(stack.cluster.binaries.kubectl, ['--kubeconfig', stack.cluster.kubeconfigPath, ...args]);
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('the broker pod issued the demo certificate (device-flow login, auto-approved request, cert)', async () => {
    const described = await run('ssh-keygen', ['-L', '-f', stack.users.oncall!.certPath]);
    expect(described.stdout).toMatch(/Key ID: "airlock:req-[0-9a-f]+:oncall"/);
  });

  it("the mediator pod runs ssh2's native crypto binding, not the JavaScript fallback (its start line)", async () => {
    const logs = await kubectl('logs', '-n', NS, 'deploy/airlock-mediator', '-c', 'mediator');
    expect(logs.code).toBe(0);
    // The pino lines (JSON); the ready lines serviceMain prints are plain text.
    const listening = logs.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; ssh2Crypto?: string })
      .find((line) => line.msg === 'mediator listening (SSH)');
    expect(listening?.ssh2Crypto).toBe('native');
  });

  it('over ssh: pods, an exec, logs -f, ssh -L, and denials (out of scope, denied command)', async () => {
    const pods = await ssh('airlock', 'pods', '-o', 'json');
    expect(pods.stderr).toBe('');
    const names = (JSON.parse(pods.stdout) as { items: { metadata: { name: string } }[] }).items
      .map((p) => p.metadata.name)
      .sort();
    expect(names).toEqual(['payments-api-0', 'payments-worker-0']);

    const exec = await ssh('airlock', 'exec', 'payments/payments-api-0', '--', 'ls', '-la', '/app');
    expect(exec.code).toBe(0);
    expect(exec.stdout).toContain('node_modules');

    const follow = followWorkerLogs(stack);
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log lines: ${lines.join('\n')}`)), 30_000);
      createInterface({ input: follow.stdout }).on('line', (line) => {
        lines.push(line);
        if (lines.filter((l) => l.startsWith('processed batch')).length >= 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    follow.kill();

    const localPort = await freePort();
    const forward = spawn(
      'ssh',
      [
        '-F',
        stack.sshConfigPath,
        '-o',
        'BatchMode=yes',
        '-o',
        'ExitOnForwardFailure=yes',
        '-N',
        '-L',
        `${localPort}:payments-api-0:8080`,
        'airlock',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      let body = '';
      for (let attempt = 0; attempt < 100 && body === ''; attempt += 1) {
        body = await fetch(`http://127.0.0.1:${localPort}/`).then(
          (res) => res.text(),
          () => sleep(200).then(() => ''),
        );
      }
      expect(body).toBe('payments-api\n');
    } finally {
      forward.kill();
    }

    const outOfScope = await ssh('airlock', 'exec', 'billing/billing-api-0', '--', 'ls', '-la', '/app');
    expect(outOfScope.code).toBe(77);
    expect(outOfScope.stderr).toContain('SCOPE_NAMESPACE');
    const denied = await ssh('airlock', 'exec', 'payments/payments-api-0', '--', 'cat', '/proc/1/environ');
    expect(denied.code).toBe(77);
    expect(denied.stderr).toContain('COMMAND_DENIED');
  });

  it("the executor pod's Kubernetes identity is its ServiceAccount; the mediator pod has no token mounted", async () => {
    const review = await kubectl(
      'exec',
      '-n',
      NS,
      'deploy/airlock-executor',
      '--',
      'node',
      '-e',
      `const fs = require('node:fs'); const d = '/var/run/secrets/kubernetes.io/serviceaccount';
       const req = require('node:https').request('https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews', {
         method: 'POST', ca: fs.readFileSync(d + '/ca.crt'),
         headers: { authorization: 'Bearer ' + fs.readFileSync(d + '/token', 'utf8'), 'content-type': 'application/json' },
       }, (res) => { let b = ''; res.on('data', (c) => { b += c; }); res.on('end', () => console.log(JSON.parse(b).status.userInfo.username)); });
       req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));`,
    );
    // Through the cluster DNS and kube-proxy: kubernetes.default.svc is the ClusterIP 10.96.0.1.
    expect(review.stderr).toBe('');
    expect(review.stdout.trim()).toBe('system:serviceaccount:airlock-system:airlock-executor');

    const token = await kubectl(
      'exec',
      '-n',
      NS,
      'deploy/airlock-mediator',
      '--',
      'ls',
      '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    expect(token.code).not.toBe(0);
    expect(token.stderr).toContain('No such file or directory');
    const spec = JSON.parse(
      (await kubectl('get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/name=airlock-mediator', '-o', 'json'))
        .stdout,
    ) as {
      items: { spec: { automountServiceAccountToken?: boolean; volumes: { projected?: unknown }[] } }[];
    };
    expect(spec.items[0]?.spec.automountServiceAccountToken).toBe(false);
    expect(spec.items[0]?.spec.volumes.some((v) => v.projected)).toBe(false);
  });

  it('executor pod killed: the mediator answers at once (EXECUTOR_UNAVAILABLE, or the new pod refusing the old certificate), serves again once the new pod is ready, and loses no audit record', async () => {
    const mediatorBefore = await tierTrail('mediator');
    const killedPods = (await kubectl('get', 'pods', '-n', NS, '-l', EXECUTOR_LABEL, '-o', 'name')).stdout
      .split('\n')
      .filter(Boolean)
      .map((name) => name.replace('pod/', ''));
    const killed = await kubectl(
      'delete',
      'pod',
      '-n',
      NS,
      '-l',
      'app.kubernetes.io/name=airlock-executor',
      '--grace-period=0',
      '--force',
      '--wait=false',
    );
    expect(killed.code).toBe(0);
    const during = await ssh('airlock', 'exec', 'payments/payments-api-0', '--', 'ls', '-la', '/app');
    process.stderr.write(
      `[pods] executor killed: the mediator answered in ${during.ms} ms: ${during.stderr.trim()}\n`,
    );
    // The mediator reconnects once, for at most RECONNECT_WAIT_MS, to a session it never
    // reached: when the new pod is up by then, its answer comes back instead of UNAVAILABLE.
    if (during.code === 65) expect(during.stderr).toContain('CERT_PREDATES_REPLAY_RECORD');
    else {
      expect(during.code).toBe(69);
      expect(during.stderr).toContain('EXECUTOR_UNAVAILABLE');
    }
    const started = Date.now();
    const newPodReady = (async () => {
      while (Date.now() - started < 180_000) {
        const pods = JSON.parse(
          (await kubectl('get', 'pods', '-n', NS, '-l', EXECUTOR_LABEL, '-o', 'json')).stdout,
        ) as {
          items: {
            metadata: { name: string };
            status?: { conditions?: { type: string; status: string }[] };
          }[];
        };
        const ready = pods.items.some(
          (p) =>
            !killedPods.includes(p.metadata.name) &&
            p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        if (ready) return Date.now() - started;
        await sleep(500);
      }
      return -1;
    })();
    // An attempt whose connection the mediator sent to the dead pod's address ends with
    // EXECUTOR_UNAVAILABLE at OpenSession's deadline (10 s); the attempts are reported.
    // The new pod's record of used logins starts empty, so it refuses the certificate issued
    // before it started (CERT_PREDATES_REPLAY_RECORD, fail closed: security review finding 3);
    // the user gets a new certificate, as the message says, and is served.
    let after = during;
    let reissued = false;
    const attempts: string[] = [];
    while (Date.now() - started < 240_000) {
      after = await run(
        'ssh',
        [
          '-F',
          stack.sshConfigPath,
          '-o',
          'BatchMode=yes',
          'airlock',
          'exec',
          'payments/payments-api-0',
          '--',
          'ls',
          '-la',
          '/app',
        ],
        process.env,
        15_000,
      );
      attempts.push(`${after.code}/${after.ms}ms`);
      if (after.code === 0) break;
      if (after.stderr.includes('CERT_PREDATES_REPLAY_RECORD') && !reissued) {
        expect(after.code).toBe(65);
        await reissueOncall(stack);
        reissued = true;
        continue;
      }
      await sleep(1_000);
    }
    process.stderr.write(`[pods] attempts after the kill (exit/duration): ${attempts.join(' ')}\n`);
    process.stderr.write(
      `[pods] new executor pod Ready ${await newPodReady} ms, served again ${Date.now() - started} ms after the kill\n`,
    );
    expect(after.code).toBe(0);
    expect(reissued).toBe(true);
    // The mediator pod lived on: every record it had before the kill is still there, in order, and the trail still verifies.
    const trail = await tierTrail('mediator');
    expect(trail.startsWith(mediatorBefore)).toBe(true);
    expect(trail.length).toBeGreaterThan(mediatorBefore.length);
    const key = createPublicKey(readFileSync(join(stateDir, 'keys', 'mediator-audit.pub')));
    expect(
      verifyAuditTrail(trail, { publicKeys: [key] }).problems.filter((p) => p.kind !== 'unsigned-tail'),
    ).toEqual([]);
  });

  async function tierTrail(tier: 'mediator' | 'executor' | 'broker'): Promise<string> {
    const read = await kubectl(
      'exec',
      '-n',
      NS,
      `deploy/airlock-${tier}`,
      '--',
      'cat',
      `/var/lib/airlock/audit/${tier}.jsonl`,
    );
    expect(read.code).toBe(0);
    return read.stdout;
  }

  it("each tier's audit trail, read from its pod, verifies (hash chain and checkpoint signatures; a live trail's tail after its last checkpoint is not yet signed)", async () => {
    for (const tier of ['broker', 'mediator', 'executor'] as const) {
      const key = createPublicKey(readFileSync(join(stateDir, 'keys', `${tier}-audit.pub`)));
      const result = verifyAuditTrail(await tierTrail(tier), { publicKeys: [key] });
      expect(result.records).toBeGreaterThan(0);
      expect(
        result.problems.filter((p) => p.kind !== 'unsigned-tail'),
        tier,
      ).toEqual([]);
    }
  });

  it('a revocation made through the broker pod reaches the mediator and executor pods (the ConfigMap, kubelet refresh); new logins are refused', async () => {
    const described = await run('ssh-keygen', ['-L', '-f', stack.users.oncall!.certPath]);
    const requestId = /Key ID: "airlock:(req-[0-9a-f]+):oncall"/.exec(described.stdout)?.[1] ?? '';
    const env = { ...process.env, AIRLOCK_CONFIG_DIR: join(stateDir, 'users', 'oncall', 'dev-up-login') };
    const revoked = await run(
      process.execPath,
      [airlock, 'revoke', requestId, '--broker', stack.brokerUrl, '--ca', stack.brokerCaPath],
      env,
    );
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    const started = Date.now();
    const seen: Record<string, number> = {};
    while (Date.now() - started < 180_000 && !(seen.mediator && seen.executor && seen.configMap)) {
      if (!seen.configMap) {
        const cm = await kubectl(
          'get',
          'configmap',
          '-n',
          NS,
          'airlock-revocation',
          '-o',
          'jsonpath={.data.revoked\\.json}',
        );
        if (cm.stdout.includes(requestId)) seen.configMap = Date.now() - started;
      }
      if (!seen.executor) {
        const file = await kubectl(
          'exec',
          '-n',
          NS,
          'deploy/airlock-executor',
          '--',
          'cat',
          '/etc/airlock/revocation/revoked.json',
        );
        if (file.stdout.includes(requestId)) seen.executor = Date.now() - started;
      }
      if (!seen.mediator) {
        const login = await ssh('airlock', 'pods');
        // Only the mediator's refusal of this certificate counts, not a login that failed otherwise.
        if (login.code !== 0 && login.stderr.includes('airlock: CERT_REVOKED'))
          seen.mediator = Date.now() - started;
      }
      await sleep(1_000);
    }
    process.stderr.write(`[pods] revocation reached (ms after the revoke): ${JSON.stringify(seen)}\n`);
    expect(Object.keys(seen).sort()).toEqual(['configMap', 'executor', 'mediator']);
  });
}, 900_000);
