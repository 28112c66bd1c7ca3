/**
 * Admission latency: what the ValidatingAdmissionPolicies of `airlock policy
 * admission` add to `kubectl exec`. Starts a hermetic cluster of its own,
 * applies the policies rendered from docs/policy.example.json (profile
 * oncall-debug, cluster `dev`, namespace `payments`), and times the real
 * kubectl binary running `kubectl exec payments-api-0 -- df -h`, whole
 * process, spawn to exit, as two identities in alternating order, sample by
 * sample:
 *
 * - with: `--as-group jit:oncall:payments`, which the policies match and
 *   check (command rules, pod and container patterns);
 * - without: `--as-group bench:baseline`, bound to the same Role, which no
 *   policy matches (the API server still evaluates the bindings' match
 *   conditions for it, a few CEL comparisons on the groups).
 *
 * Both impersonate through the same cluster-admin kubeconfig. A plain node
 * script: `npm run build && node dist/bench/admission.bench.js` prints one
 * JSON object; `npm run bench` runs it as the `admission` part. Results are
 * recorded, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { startCluster } from '../services/cli/dev/hermetic-cluster.js';
import { renderAdmission } from '../services/core/policy/admission-render.js';
import { loadPolicy, renderRbac } from '../services/core/policy/index.js';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { type Summary, summarize } from './stats.js';

const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
const RUNS = QUICK ? 5 : 60;
const WARMUP = QUICK ? 1 : 5;
const CLUSTER = 'dev';
const NAMESPACE = 'payments';
const POD = 'payments-api-0';
const WITH_GROUP = 'jit:oncall:payments';
const WITHOUT_GROUP = 'bench:baseline';
const ARGV = ['df', '-h'];

/** What the script prints (one JSON object). */
export interface AdmissionBenchResult {
  readonly benchmark: 'admission';
  readonly argv: readonly string[];
  readonly policies: number;
  readonly runs: number;
  readonly with_policies_ms: Summary;
  readonly without_policies_ms: Summary;
  readonly added_p50_ms: number;
  readonly added_p99_ms: number;
}

async function createAll(kc: KubeConfig, objects: readonly unknown[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) await api.create(JSON.parse(JSON.stringify(object)) as KubernetesObject);
}

/** The namespace, the example policy's Roles for it, the same Role for the baseline group, and one Running pod. */
async function prepare(kc: KubeConfig, nodeName: string, policyText: string): Promise<void> {
  const policy = loadPolicy(policyText);
  const rbac = renderRbac(policy, {
    cluster: CLUSTER,
    namespaces: [NAMESPACE],
    executorServiceAccount: { name: 'airlock-executor', namespace: 'airlock-system' },
  }).filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding');
  const baseline = rbac
    .filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'airlock-jit-oncall-debug')
    .map((o) => ({
      ...o,
      metadata: { ...o.metadata, name: 'bench-baseline' },
      subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: WITHOUT_GROUP }],
    }));
  await createAll(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
  await createAll(kc, [...rbac, ...baseline]);
  const core = kc.makeApiClient(CoreV1Api);
  const body = {
    metadata: { name: POD },
    spec: { nodeName, containers: [{ name: 'main', image: 'example.invalid/fake:1' }] },
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await core.createNamespacedPod({ namespace: NAMESPACE, body });
      break;
    } catch (error) {
      if (attempt > 100 || !String(error).includes('serviceaccount')) throw error;
      await sleep(100);
    }
  }
  const deadline = Date.now() + 30_000;
  while ((await core.readNamespacedPod({ namespace: NAMESPACE, name: POD })).status?.phase !== 'Running') {
    if (Date.now() > deadline) throw new Error(`${POD} did not become Running`);
    await sleep(100);
  }
}

/** One `kubectl exec` as `group`: milliseconds, spawn to exit; throws unless it ran (exit 0). */
function kubectlExec(kubectl: string, kubeconfig: string, group: string, argv = ARGV): number {
  const args = ['--kubeconfig', kubeconfig, 'exec', '-n', NAMESPACE, POD, '--as', 'alice'];
  const start = process.hrtime.bigint();
  const run = spawnSync(kubectl, [...args, '--as-group', group, '--', ...argv], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== 0) throw new Error(`kubectl exec as ${group} exited ${run.status}: ${run.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const cluster = await startCluster({ onProgress: (line) => process.stderr.write(`[admission] ${line}\n`) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const policyText = readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8');
    await prepare(kc, cluster.nodeName, policyText);
    const admission = renderAdmission(loadPolicy(policyText), { cluster: CLUSTER, policyText });
    await createAll(kc, admission);
    const exec = (group: string) => kubectlExec(cluster.binaries.kubectl, cluster.kubeconfigPath, group);
    // Policies take effect asynchronously: wait until a refused command is refused by one.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        kubectlExec(cluster.binaries.kubectl, cluster.kubeconfigPath, WITH_GROUP, ['sh', '-c', 'id']);
      } catch (error) {
        if (String(error).includes('airlock: ')) break;
      }
      if (Date.now() > deadline) throw new Error('admission policies not enforced after 30 s');
      await sleep(200);
    }
    for (let i = 0; i < WARMUP; i++) {
      exec(WITH_GROUP);
      exec(WITHOUT_GROUP);
    }
    const withPolicies: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first, so neither side always follows the other.
      if (i % 2 === 0) {
        withPolicies.push(exec(WITH_GROUP));
        without.push(exec(WITHOUT_GROUP));
      } else {
        without.push(exec(WITHOUT_GROUP));
        withPolicies.push(exec(WITH_GROUP));
      }
    }
    const withMs = summarize(withPolicies);
    const withoutMs = summarize(without);
    const result: AdmissionBenchResult = {
      benchmark: 'admission',
      argv: ARGV,
      policies: admission.length,
      runs: RUNS,
      with_policies_ms: withMs,
      without_policies_ms: withoutMs,
      added_p50_ms: Math.round((withMs.p50 - withoutMs.p50) * 100) / 100,
      added_p99_ms: Math.round((withMs.p99 - withoutMs.p99) * 100) / 100,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`admission bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
