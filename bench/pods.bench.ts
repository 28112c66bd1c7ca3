/**
 * Ephemeral mode on the real node (part `ephemeral-pods` of `npm run bench`;
 * alone: `node dist/bench/pods.bench.js` prints its JSON). Starts the
 * ephemeral pods stack (deploy/overlays/dev-ephemeral, whose standing tiers
 * run beside the door) and measures, with the stock ssh client:
 *
 * - approval → ssh-ready: per request, from the broker's answer "approved"
 *   (its pods are created by then) until the first `ssh … pods` through the
 *   door exits 0, retried at once while it fails; each request is revoked
 *   after its sample so the node holds one pair at a time;
 * - `exec` latency through a request's own pods (door → mediator pod →
 *   executor pod) against the standing mediator and executor Deployments,
 *   the same certificate, command and target pod, interleaved.
 *
 * It needs a real node (root, containerd, runc, the CNI plugins): without
 * one it prints `{"skipped": "<why>"}` and the report says so. One real node
 * per machine: run it when no other holds the node.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DoorAccess, requestThroughDoor } from '../services/cli/dev/pods/door-access.js';
import {
  type EphemeralPodsStack,
  startEphemeralPodsStack,
} from '../services/cli/dev/pods/ephemeral-pods-stack.js';
import { AIRLOCK_NAMESPACE } from '../services/cli/dev/pods/pods-objects.js';
import { startRelay } from '../services/cli/dev/pods/tcp-relay.js';
import { realNodeUnavailableReason } from '../services/cli/dev/real-node/real-node.js';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { runProcess } from './process-runner.js';
import { type Summary, summarize } from './stats.js';

/** What the part measured, or why it did not run. */
export interface PodsBenchResult {
  skipped?: string;
  requests?: number;
  /** Approval → first ssh command through the door done, ms. */
  approval_to_ssh_ready_ms?: Summary;
  /** Failed first attempts per request before the one that worked (waits at the door included). */
  ready_attempts?: number[];
  /** Each failed attempt: how long it took, its exit status and the last words `ssh` said. */
  ready_failures?: { ms: number; code: number | null; said: string }[];
  /** Samples that failed (their error), besides those measured. */
  sample_errors?: string[];
  exec_argv?: string[];
  exec_ms?: { ephemeral: Summary; standing: Summary };
}

const REQUESTS = Number(process.env.AIRLOCK_BENCH_PODS_REQUESTS ?? 5);
const EXEC_RUNS = Number(process.env.AIRLOCK_BENCH_PODS_EXEC_RUNS ?? 10);
// What the oncall-debug profile allows (as test/pods/ephemeral.test.ts runs it).
const EXEC = ['exec', 'payments/payments-api-0', '--', 'ls', '-la', '/app'];
const log = (line: string) => process.stderr.write(`[bench pods] ${line}\n`);

const oncall = (stack: EphemeralPodsStack) => ({ name: 'oncall', keyPath: stack.users.oncall!.keyPath });
const request = { profile: 'oncall-debug', namespace: 'payments', pods: ['payments-*'], ttl: '10m' };
/**
 * A connection that stops answering is given up, not waited for. The
 * connect timeout also bounds the banner exchange, which through the door
 * waits for a mediator pod that is not ready yet (the door's own bound,
 * `mediatorReadySeconds`, is 30 s by default): it must outlast that wait.
 */
const SSH_TIMEOUTS = [
  '-o',
  'ConnectTimeout=60',
  '-o',
  'ServerAliveInterval=5',
  '-o',
  'ServerAliveCountMax=3',
];
const sshDoor = (access: DoorAccess, args: string[]) =>
  runProcess('ssh', [...SSH_TIMEOUTS, '-F', access.sshConfig, access.requestId, ...args]);

/** One approval → ssh-ready sample; resolves to [ms, failed attempts]; failed attempts go to `failures`. */
async function readySample(
  stack: EphemeralPodsStack,
  failures: NonNullable<PodsBenchResult['ready_failures']>,
): Promise<[number, number, DoorAccess]> {
  const access = await requestThroughDoor(stack, oncall(stack), request);
  let failed = 0;
  while (Date.now() - access.approvedAt < 180_000) {
    const first = await sshDoor(access, ['pods']);
    if (first.code === 0) return [Date.now() - access.approvedAt, failed, access];
    failed += 1;
    const said = first.stderr.toString().trim().split('\n').slice(-3).join(' | ');
    failures.push({ ms: Math.round(first.ms), code: first.code, said });
  }
  throw new Error(`${access.requestId}: no ssh command succeeded within 180 s of approval`);
}

/** `airlock revoke`; asynchronous: the broker is reached through this process's own relay. */
async function revoke(stack: EphemeralPodsStack, access: DoorAccess): Promise<void> {
  const airlock = join(repoRoot(), 'bin', 'airlock.js');
  const args = [airlock, 'revoke', access.requestId, '--broker', stack.brokerUrl, '--ca', stack.brokerCaPath];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, AIRLOCK_CONFIG_DIR: access.configDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`revoke ${access.requestId}: ${stderr.trim()}`);
}

/**
 * ssh arguments that reach the standing mediator (through a loopback relay
 * to its Service) with the request's key and certificate, read from the
 * ssh_config entry `airlock cert --door` wrote. Host key not checked: a
 * loopback relay in a throw-away cluster, timing only.
 */
async function standingSsh(stack: EphemeralPodsStack, access: DoorAccess) {
  const entry = readFileSync(access.entryPath, 'utf8');
  const block = entry.slice(entry.indexOf(`Host ${access.requestId}\n`));
  const option = (name: string) => new RegExp(`^\\s*${name}\\s+(\\S+)`, 'm').exec(block)?.[1] ?? '';
  const host = stack
    .kubectl(
      'get',
      'service',
      '-n',
      AIRLOCK_NAMESPACE,
      'airlock-mediator',
      '-o',
      'jsonpath={.spec.clusterIP}',
    )
    .trim();
  // The Service's port (22), not the container's (2222).
  const relay = await startRelay(async () => ({ host, port: 22 }));
  const args = [
    ...['-F', 'none', '-i', option('IdentityFile'), '-o', `CertificateFile=${option('CertificateFile')}`],
    ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes'],
    ...['-o', 'LogLevel=ERROR', ...SSH_TIMEOUTS, '-p', String(relay.port), `${option('User')}@127.0.0.1`],
  ];
  return { args, close: () => relay.server.close() };
}

/** `exec` through the request's own pods and through the standing tiers, interleaved. */
async function execLatency(stack: EphemeralPodsStack, access: DoorAccess) {
  const standing = await standingSsh(stack, access);
  const samples = { ephemeral: [] as number[], standing: [] as number[] };
  try {
    for (let i = 0; i <= EXEC_RUNS; i += 1) {
      const viaDoor = await sshDoor(access, EXEC);
      const direct = await runProcess('ssh', [...standing.args, ...EXEC]);
      for (const [ran, where] of [
        [viaDoor, 'ephemeral'],
        [direct, 'standing'],
      ] as const) {
        if (ran.code !== 0)
          throw new Error(`${where} exec exited ${ran.code}: ${ran.stderr.toString().trim()}`);
        // The first round warms both paths up (connections, the pod's first exec).
        if (i > 0) samples[where].push(ran.ms);
      }
    }
  } finally {
    standing.close();
  }
  return { ephemeral: summarize(samples.ephemeral), standing: summarize(samples.standing) };
}

/** The part: starts the stack, takes the samples, stops it. */
export async function benchPods(): Promise<PodsBenchResult> {
  const skipped = realNodeUnavailableReason();
  if (skipped) return { skipped };
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-bench-pods-'));
  const stack = await startEphemeralPodsStack(stateDir, log);
  try {
    const ready: number[] = [];
    const attempts: number[] = [];
    const errors: string[] = [];
    const failures: NonNullable<PodsBenchResult['ready_failures']> = [];
    let last: DoorAccess | undefined;
    for (let i = 0; i < REQUESTS; i += 1) {
      try {
        if (last) await revoke(stack, last);
        const [ms, failed, access] = await readySample(stack, failures);
        log(`${access.requestId}: approval → ssh-ready ${ms} ms (${failed} failed attempts)`);
        last = access;
        ready.push(ms);
        attempts.push(failed);
      } catch (error) {
        // One failed sample is recorded, not the end of the part.
        errors.push(error instanceof Error ? error.message : String(error));
        log(`sample ${i + 1} failed: ${errors.at(-1)}`);
        last = undefined;
      }
    }
    return {
      requests: ready.length,
      approval_to_ssh_ready_ms: summarize(ready),
      ready_attempts: attempts,
      ready_failures: failures,
      ...(errors.length > 0 ? { sample_errors: errors } : {}),
      exec_argv: EXEC,
      ...(last ? { exec_ms: await execLatency(stack, last) } : {}),
    };
  } finally {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchPods().then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
