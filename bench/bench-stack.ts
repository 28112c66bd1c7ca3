/**
 * The stack the gateway benchmarks run against: `startDevStack` with a
 * bench-only policy, plus a second mediator process with load-sized limits,
 * bench users with their own certificates, and a bench pod whose port 9000 is
 * a TCP source served by this process.
 *
 * Why a second mediator: the dev mediator keeps its production defaults
 * (10 unauthenticated connections per source address, 10 sessions per
 * principal), and every benchmark client comes from 127.0.0.1. The bench
 * mediator is the same binary with the same credentials and policy; only
 * `limits` and its audit file differ. Both are real processes.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { DEMO_NAMESPACE, type DevStack, startDevStack } from '../services/cli/dev/dev-stack.js';
import { readSshCaKeyring } from '../services/core/ca-keyring/keyring-files.js';
import { repoRoot } from '../services/core/repo/repo-root.js';
import {
  type AirlockScope,
  parsePublicKeyLine,
  signUserCertificate,
} from '../services/core/ssh-cert/index.js';
import { BENCH_LIMITS, startBenchMediator, stopChild } from './bench-tiers.js';
import { runProcess } from './process-runner.js';

export { startBenchMediator, startTierPair, stopChild, type TierPair } from './bench-tiers.js';

/** The pod every exec benchmark targets (the demo HTTP pod; exec runs a local process in its directory). */
export const EXEC_POD = 'payments-api-0';
/** The bench pod whose port 9000 maps to the TCP source below. */
export const FORWARD_POD = 'payments-bench-0';
export const FORWARD_PORT = 9000;
/** The profile the bench policy adds; `true` for latency, `head`/`wc` for the streams. */
export const BENCH_PROFILE = 'bench';
export const BENCH_COMMANDS = {
  noop: ['true'],
  stdout: (bytes: number) => ['head', '-c', String(bytes), '/dev/zero'],
  stdin: ['wc', '-c'],
} as const;

export interface BenchUser {
  name: string;
  keyPath: string;
  certPath: string;
}

export interface BenchStack {
  dev: DevStack;
  /** The bench mediator's SSH port and pid. */
  sshPort: number;
  mediatorPid: number;
  /** The bench mediator's audit trail (JSON lines). */
  mediatorAuditPath: string;
  /** The dev stack's executor (found by its command line among the stack's pids). */
  executorPid: number;
  knownHostsPath: string;
  kubectl: string;
  adminKubeconfig: string;
  users: BenchUser[];
  stop(): Promise<void>;
}

function benchPolicy(): unknown {
  const example = JSON.parse(readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8')) as {
    profiles: Record<string, unknown>;
  };
  example.profiles[BENCH_PROFILE] = {
    description:
      'Benchmarks only: a no-op, a stdout source and a stdin sink; port-forward to the bench port; listing pods and reading logs (the soak run).',
    groups: ['jit:bench:{namespace}'],
    requesterGroups: ['bench'],
    maxTtlSeconds: 3600,
    scope: { clusters: ['dev'], namespaces: [DEMO_NAMESPACE], pods: ['payments-*'] },
    actions: {
      exec: {},
      'port-forward': { ports: [FORWARD_PORT] },
      list: { resources: ['pods'] },
      logs: {},
    },
    commands: {
      matchBasename: false,
      allow: [
        { id: 'noop', argv: ['true'] },
        { id: 'stdout-source', argv: ['head', '-c', '*', '/dev/zero'] },
        { id: 'stdin-sink', argv: ['wc', '-c'] },
      ],
      deny: [],
    },
    approval: { manual: { approverGroups: ['bench-leads'], count: 1, pendingExpirySeconds: 600 } },
  };
  return example;
}

/**
 * A TCP source for the port-forward benchmark: a client sends the decimal
 * byte count and a newline, the server answers with that many bytes and
 * closes. A connection that sends nothing (a readiness probe) gets nothing.
 */
export function startTcpSource(): Promise<Server> {
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const server = createServer((socket) => {
    let request = '';
    socket.on('error', () => {});
    socket.on('data', (data) => {
      request += data.toString('latin1');
      const newline = request.indexOf('\n');
      if (newline < 0) return;
      socket.removeAllListeners('data');
      let left = Number(request.slice(0, newline));
      const pump = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!socket.write(piece)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** What a bench certificate may add to the bench scope (e.g. `moderation`, `moderator`). */
export type BenchScopeExtra = Partial<Pick<AirlockScope, 'moderation' | 'moderator'>>;

/**
 * Signs a bench certificate for `name` with the dev stack's SSH user CA
 * (its current key), on a copy of the oncall demo key so that the only
 * certificate beside each copy is this one (ssh loads `<key>-cert.pub`).
 */
export function issueBenchUser(
  stateDir: string,
  name: string,
  extra: BenchScopeExtra = {},
  extensions: Record<string, string> = { 'permit-port-forwarding': '' },
): BenchUser {
  const ca = readSshCaKeyring(join(stateDir, 'keys', 'ca', 'ssh-user')).active;
  const demoKey = join(stateDir, 'users', 'oncall', 'id_ed25519');
  const publicKey = parsePublicKeyLine(readFileSync(`${demoKey}.pub`, 'utf8')).key;
  const dir = join(stateDir, 'users', 'bench');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const signed = signUserCertificate({
    caPrivateKey: ca,
    publicKey,
    keyId: `${name}@bench`,
    principals: [name],
    // Valid from now: the executor refuses a certificate valid before its
    // login record began (CERT_PREDATES_REPLAY_RECORD), and one longer than
    // the bench profile's maxTtlSeconds, 3600 (CERT_LIFETIME_EXCEEDS_POLICY).
    validAfter: new Date(now),
    validBefore: new Date(now + 3_600_000),
    extensions,
    scope: {
      cluster: 'dev',
      namespace: DEMO_NAMESPACE,
      podPatterns: ['payments-*'],
      profile: BENCH_PROFILE,
      requestId: `bench-${name}`,
      groups: [`jit:bench:${DEMO_NAMESPACE}`],
      ...extra,
    },
  });
  const keyPath = join(dir, name);
  writeFileSync(keyPath, readFileSync(demoKey, 'utf8'), { mode: 0o600 });
  const certPath = `${keyPath}-cert.pub`;
  writeFileSync(certPath, `${signed.line}\n`);
  return { name, keyPath, certPath };
}

function issueBenchUsers(stateDir: string, count: number): BenchUser[] {
  return Array.from({ length: count }, (_, i) => issueBenchUser(stateDir, `bench${i}`));
}

async function createForwardPod(kubeconfigPath: string, nodeName: string, target: number): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await KubernetesObjectApi.makeApiClient(kc).create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: FORWARD_POD,
      namespace: DEMO_NAMESPACE,
      annotations: {
        'fake-kubelet.airlock.dev/ports': JSON.stringify({ [FORWARD_PORT]: `127.0.0.1:${target}` }),
      },
    },
    spec: { nodeName, containers: [{ name: 'main', image: 'example.invalid/bench:1' }] },
  } as never);
}

/** Brings the whole bench stack up; `stop()` ends everything it started. */
export async function startBenchStack(
  stateDir: string,
  onProgress: (line: string) => void,
  userCount: number,
): Promise<BenchStack & { tcpSource: Server }> {
  mkdirSync(stateDir, { recursive: true });
  const policyPath = join(stateDir, 'bench-policy.json');
  writeFileSync(policyPath, JSON.stringify(benchPolicy(), null, 2));
  const dev = await startDevStack(stateDir, onProgress, { policyPath });
  let mediator: ChildProcess | undefined;
  let tcpSource: Server | undefined;
  try {
    tcpSource = await startTcpSource();
    const address = tcpSource.address();
    if (address === null || typeof address === 'string') throw new Error('tcp source has no port');
    await createForwardPod(dev.cluster.kubeconfigPath, dev.cluster.nodeName, address.port);
    const users = issueBenchUsers(stateDir, userCount);
    const started = await startBenchMediator(stateDir, BENCH_LIMITS);
    mediator = started.child;
    const hostKey = readFileSync(dev.knownHostsPath, 'utf8').split(' ').slice(1).join(' ');
    const knownHostsPath = join(stateDir, 'bench_known_hosts');
    writeFileSync(knownHostsPath, `[127.0.0.1]:${started.port} ${hostKey}`);
    const kubectl = dev.cluster.binaries.kubectl;
    // Wait until the bench pod runs (the fake kubelet marks it Running).
    for (let i = 0; ; i++) {
      const phase = await runProcess(kubectl, [
        '--kubeconfig',
        dev.cluster.kubeconfigPath,
        'get',
        'pod',
        '-n',
        DEMO_NAMESPACE,
        FORWARD_POD,
        '-o',
        'jsonpath={.status.phase}',
      ]);
      if (phase.stdout.toString() === 'Running') break;
      if (i > 100) throw new Error(`bench pod not running: ${phase.stderr.toString()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const child = mediator;
    const source = tcpSource;
    const executorPid = dev.pids.find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('executor/main.js');
      } catch {
        return false;
      }
    });
    if (executorPid === undefined) throw new Error('no executor process among the dev stack pids');
    return {
      dev,
      sshPort: started.port,
      mediatorPid: child.pid!,
      mediatorAuditPath: started.auditPath,
      executorPid,
      knownHostsPath,
      kubectl,
      adminKubeconfig: dev.cluster.kubeconfigPath,
      users,
      tcpSource: source,
      async stop() {
        await stopChild(child);
        source.close();
        await dev.stop();
      },
    };
  } catch (error) {
    if (mediator) await stopChild(mediator);
    tcpSource?.close();
    await dev.stop();
    throw error;
  }
}
