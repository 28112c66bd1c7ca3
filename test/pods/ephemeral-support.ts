import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchNames } from '../../services/broker/launcher/launch-names.js';
import type { EphemeralPodsStack } from '../../services/cli/dev/pods/ephemeral-pods-stack.js';
import { type Ran, run } from './pods-support.js';

export const NS = 'airlock-system';

/** kubectl as cluster-admin, not throwing: the result as `run` gives it. */
export function kubectlOf(stack: EphemeralPodsStack): (...args: string[]) => Promise<Ran> {
  return (...args) =>
    run(stack.cluster.binaries.kubectl, ['--kubeconfig', stack.cluster.kubeconfigPath, ...args]);
}

/** Every object of one request that exists now, as `kind/name` (the labels the launcher sets). */
export async function objectsOf(stack: EphemeralPodsStack, requestId: string): Promise<string[]> {
  const kubectl = kubectlOf(stack);
  const selector = `airlock.dev/request-id=${requestId}`;
  const namespaced = await kubectl(
    'get',
    'configmaps,serviceaccounts,secrets,services,pods',
    '-n',
    NS,
    '-l',
    selector,
    '-o',
    'name',
  );
  const clusterScoped = await kubectl(
    'get',
    'clusterroles,clusterrolebindings',
    '-l',
    selector,
    '-o',
    'name',
  );
  return `${namespaced.stdout}\n${clusterScoped.stdout}`.split('\n').filter(Boolean).sort();
}

/** Polls until `check` is true; resolves to the ms it took, or -1 after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 500,
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await sleep(everyMs);
  }
  return -1;
}

interface PodJson {
  metadata: { name: string; uid?: string; creationTimestamp: string; labels?: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    activeDeadlineSeconds?: number;
    automountServiceAccountToken?: boolean;
  };
  status: {
    phase?: string;
    reason?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
  };
}

/** The pods of one request (mediator and executor), as Kubernetes has them. */
export async function podsOf(stack: EphemeralPodsStack, requestId: string): Promise<PodJson[]> {
  const listed = await kubectlOf(stack)(
    'get',
    'pods',
    '-n',
    NS,
    '-l',
    `airlock.dev/request-id=${requestId}`,
    '-o',
    'json',
  );
  return (JSON.parse(listed.stdout || '{"items":[]}') as { items: PodJson[] }).items;
}

/** Seconds from a pod's creation to its Ready condition (1 s resolution), or undefined while not Ready. */
export function secondsToReady(pod: PodJson): number | undefined {
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready?.lastTransitionTime) return undefined;
  return (Date.parse(ready.lastTransitionTime) - Date.parse(pod.metadata.creationTimestamp)) / 1000;
}

/** May `user` do `attributes`? A SubjectAccessReview made by cluster-admin. */
export async function subjectMay(
  stack: EphemeralPodsStack,
  serviceAccount: string,
  attributes: Record<string, string>,
): Promise<boolean> {
  const file = join(stack.stateDir, `sar-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${NS}:${serviceAccount}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
        resourceAttributes: attributes,
      },
    }),
  );
  const made = await kubectlOf(stack)('create', '-f', file, '-o', 'json');
  return (JSON.parse(made.stdout) as { status?: { allowed?: boolean } }).status?.allowed === true;
}

/**
 * From inside request `requestId`'s executor pod, with its own bound token:
 * the HTTP status of GET `path` impersonating `airlock:session` + `group`.
 */
export async function executorCallAs(
  stack: EphemeralPodsStack,
  requestId: string,
  path: string,
  group: string,
): Promise<string> {
  const script = `const fs = require('node:fs'); const d = '/var/run/secrets/kubernetes.io/serviceaccount';
    const req = require('node:https').request('https://kubernetes.default.svc' + ${JSON.stringify(path)}, {
      ca: fs.readFileSync(d + '/ca.crt'),
      headers: { authorization: 'Bearer ' + fs.readFileSync(d + '/token', 'utf8'),
        'impersonate-user': 'airlock:session', 'impersonate-group': ${JSON.stringify(group)} },
    }, (res) => { res.resume(); console.log(res.statusCode); });
    req.on('error', (e) => console.log(String(e))); req.end();`;
  const pod = launchNames(requestId).tier.executor;
  const ran = await kubectlOf(stack)('exec', '-n', NS, pod, '-c', 'executor', '--', 'node', '-e', script);
  return `${ran.stdout.trim()}${ran.stderr.trim() ? ` (${ran.stderr.trim()})` : ''}`;
}

/** A tier's audit trail, read from a pod of `ref` (`pod/NAME` or `deploy/NAME`) while it runs. */
export async function trailOf(stack: EphemeralPodsStack, ref: string, tier: string): Promise<Ran> {
  return kubectlOf(stack)('exec', '-n', NS, ref, '--', 'cat', `/var/lib/airlock/audit/${tier}.jsonl`);
}

/** An `ssh … logs -f` session that has printed its first log line. */
export interface Following {
  /** Resolves when ssh exits: when (ms since the epoch), its exit code and everything it wrote to stderr. */
  readonly closed: Promise<{ at: number; code: number | null; stderr: string }>;
  kill(): void;
}

/** Starts `ssh -F sshConfig host logs -f pod` and resolves once a `processed batch` line came through. */
export async function followLogs(sshConfig: string, host: string, pod: string): Promise<Following> {
  const follow = spawn('ssh', ['-F', sshConfig, host, 'logs', '-f', pod]);
  let stderr = '';
  follow.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const closed = new Promise<{ at: number; code: number | null; stderr: string }>((resolve) =>
    follow.on('close', (code) => resolve({ at: Date.now(), code, stderr })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no log line; stderr: ${stderr}`)), 60_000);
    createInterface({ input: follow.stdout }).on('line', (line) => {
      if (line.startsWith('processed batch')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { closed, kill: () => follow.kill() };
}

const airlockCli = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** One trail of the audit store, as `airlock audit collect` rebuilt it. */
export interface StoredTrail {
  /** The trail origin: `<pod name>-<pod uid>` (tier-audit-agent.ts). */
  origin: string;
  files: number;
  /** The trail's files in chain order, concatenated. */
  text: string;
}

/**
 * The audit store's copy of the trails of `tier` pods named `pod` (a replaced
 * pod has its predecessor's name, another uid): `airlock audit collect` over
 * the store's files into `outDir`, each origin's files in chain order
 * (rotated files first), for the caller to verify.
 */
export async function storedTrails(
  stack: EphemeralPodsStack,
  outDir: string,
  pod: string,
  tier: 'mediator' | 'executor',
): Promise<{ collect: Ran; trails: StoredTrail[] }> {
  const storeDir = stack.auditStoreDir ?? '';
  const stored = readdirSync(storeDir)
    .filter((f) => f.startsWith('audit.otlp'))
    .map((f) => join(storeDir, f));
  const collect = await run(process.execPath, [airlockCli, 'audit', 'collect', ...stored, '--out', outDir]);
  const trails: StoredTrail[] = [];
  for (const origin of readdirSync(outDir).filter((d) => d.startsWith(`${pod}-`))) {
    const names = readdirSync(join(outDir, origin)).filter((f) => f.startsWith(`${tier}.jsonl`));
    // Chain order: the rotated files (tier.jsonl.<12 digits>) by number, then the active file.
    names.sort((x, y) => (x === `${tier}.jsonl` ? 1 : y === `${tier}.jsonl` ? -1 : x.localeCompare(y)));
    const text = names.map((f) => readFileSync(join(outDir, origin, f), 'utf8')).join('');
    trails.push({ origin, files: names.length, text });
  }
  return { collect, trails };
}
