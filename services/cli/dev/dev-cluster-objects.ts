/**
 * What the dev stack creates in the cluster: namespaces, ServiceAccounts,
 * the executor's RBAC rendered from the policy, the deploy/rbac templates
 * and the demo pods; and the ServiceAccount kubeconfigs the executor and
 * broker run with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  loadYaml,
  VersionApi,
} from '@kubernetes/client-node';
import { AirlockError } from '../../core/errors.js';
import { impersonationVerbsFor, type Policy, renderRbac } from '../../core/policy/index.js';
import type { DevKubeTarget } from './dev-cluster-target.js';
import {
  BROKER_SA,
  DEMO_NAMESPACE,
  DEV_CLUSTER,
  EXECUTOR_SA,
  INCIDENT_BOT_SA,
  OTHER_NAMESPACE,
} from './dev-identities.js';
import { writeSecret } from './dev-state-dir.js';

/** The demo pods' image, for clusters with a real kubelet (the hermetic cluster's fake one ignores it). */
const DEMO_IMAGE = 'docker.io/library/busybox:1.37';

/** Creates each object; one that exists already is left as it is (and not reported to `onCreated`). */
async function applyObjects(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  onCreated?: (object: KubernetesObject) => void,
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    try {
      await api.create(object);
      onCreated?.(object);
    } catch (error) {
      if (!String(error).includes('AlreadyExists') && (error as { code?: number }).code !== 409) throw error;
    }
  }
}

/**
 * Demo pods: one serving HTTP on 8080, one writing logs; and one in the
 * namespace out of scope. The hermetic cluster's fake kubelet runs each
 * command on the host (FAKE_KUBELET_PORT_8080 is the local port it maps
 * 8080 to, and python3 serves it); a real cluster runs it in busybox, whose
 * httpd serves instead.
 */
function demoPods(nodeName: string | undefined): KubernetesObject[] {
  const pod = (namespace: string, name: string, command: string[], ports: number[] = []) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, '') } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [
        {
          name: 'main',
          image: DEMO_IMAGE,
          command,
          ports: ports.map((containerPort) => ({ containerPort, name: 'http' })),
        },
      ],
    },
  });
  return [
    pod(
      DEMO_NAMESPACE,
      'payments-api-0',
      [
        'sh',
        '-c',
        'port=$FAKE_KUBELET_PORT_8080; [ -n "$port" ] || port=8080; ' +
          'if command -v python3 >/dev/null; then exec python3 -m http.server --bind 127.0.0.1 "$port"; fi; ' +
          'mkdir -p /tmp/www && echo payments-api > /tmp/www/index.html && exec httpd -f -p "127.0.0.1:$port" -h /tmp/www',
      ],
      [8080],
    ),
    pod(DEMO_NAMESPACE, 'payments-worker-0', [
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo "processed batch $i"; sleep 2; done',
    ]),
    pod(OTHER_NAMESPACE, 'billing-api-0', ['sh', '-c', 'while true; do echo billing; sleep 5; done']),
  ];
}

/** The deploy/rbac templates (deploy/rbac/kustomization.yaml lists them). */
function rbacTemplates(root: string): KubernetesObject[] {
  const dir = join(root, 'deploy', 'rbac');
  const kustomization = loadYaml<{ resources: string[] }>(
    readFileSync(join(dir, 'kustomization.yaml'), 'utf8'),
  );
  return kustomization.resources.flatMap(
    (file) => loadAllYaml(readFileSync(join(dir, file), 'utf8')) as KubernetesObject[],
  );
}

/**
 * Waits until every demo pod runs, so the walkthrough works as soon as it is
 * printed (a real cluster pulls the image first). Fails naming the pods that
 * do not, with their phase and the reason a container waits.
 */
async function waitForPodsRunning(
  kc: KubeConfig,
  pods: readonly KubernetesObject[],
  onProgress: (line: string) => void,
  timeoutMs = 180_000,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  let reported = false;
  for (;;) {
    const states = await Promise.all(
      pods.map(async ({ metadata }) => {
        const [namespace, name] = [metadata?.namespace ?? '', metadata?.name ?? ''];
        const read = await core.readNamespacedPod({ namespace, name });
        const waiting = read.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
        const phase = read.status?.phase ?? 'Pending';
        return {
          name: `${namespace}/${name}`,
          running: phase === 'Running',
          shown: `${phase}${waiting ? ` (${waiting})` : read.spec?.nodeName ? '' : ' (not scheduled)'}`,
        };
      }),
    );
    const notYet = states.filter((state) => !state.running);
    if (notYet.length === 0) return;
    if (Date.now() > deadline) {
      throw new AirlockError(
        'CLUSTER_START_FAILED',
        `demo pods not running after ${timeoutMs / 1000} s: ${notYet.map((p) => `${p.name} ${p.shown}`).join(', ')}` +
          ' (a cluster without a scheduler needs --node NAME)',
      );
    }
    if (!reported) {
      onProgress(`waiting for the demo pods: ${notYet.map((p) => `${p.name} ${p.shown}`).join(', ')}`);
      reported = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The runbook's namespace, the three ServiceAccounts, and the broker's TokenReview binding. */
function serviceAccountObjects(): KubernetesObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: INCIDENT_BOT_SA.namespace } },
    ...[EXECUTOR_SA, BROKER_SA, INCIDENT_BOT_SA].map(
      (sa) =>
        ({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: sa.name, namespace: sa.namespace },
        }) as KubernetesObject,
    ),
    // The broker reviews runbook tokens (TokenReview) and nothing else here.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'airlock-broker-token-review' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:auth-delegator',
      },
      subjects: [{ kind: 'ServiceAccount', name: BROKER_SA.name, namespace: BROKER_SA.namespace }],
    } as KubernetesObject,
  ];
}

/**
 * Applies everything the dev stack needs in the cluster, each created object
 * reported to `kube.onCreated` (for `dev down`), and waits for the demo pods
 * to run.
 */
export async function applyDevObjects(
  admin: KubeConfig,
  kube: DevKubeTarget,
  policy: Policy,
  root: string,
  onProgress: (line: string) => void,
): Promise<void> {
  onProgress('applying RBAC and demo pods');
  const namespaces = [EXECUTOR_SA.namespace, DEMO_NAMESPACE, OTHER_NAMESPACE].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  }));
  await applyObjects(admin, namespaces, kube.onCreated);
  await applyObjects(admin, serviceAccountObjects(), kube.onCreated);
  // Constrained impersonation where the cluster knows it (1.36+), the classic verb before.
  const version = await admin.makeApiClient(VersionApi).getCode();
  await applyObjects(
    admin,
    renderRbac(policy, {
      cluster: DEV_CLUSTER,
      namespaces: [DEMO_NAMESPACE],
      executorServiceAccount: EXECUTOR_SA,
      impersonation: impersonationVerbsFor(version.major, version.minor),
    }) as KubernetesObject[],
    kube.onCreated,
  );
  // The deploy/rbac templates, as a platform team would apply them (deploy/rbac/README.md).
  await applyObjects(admin, rbacTemplates(root), kube.onCreated);
  for (let attempt = 0; ; attempt++) {
    try {
      await applyObjects(admin, demoPods(kube.nodeName), kube.onCreated);
      break;
    } catch (error) {
      if (attempt > 50 || !String(error).includes('serviceaccount')) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await waitForPodsRunning(admin, demoPods(kube.nodeName), onProgress);
}

/**
 * Writes `path`, a kubeconfig for `sa` with a fresh token (one day) for the
 * API server's own audience, and returns the path.
 */
export async function serviceAccountKubeconfig(
  admin: KubeConfig,
  clusterEntry: DevKubeTarget['clusterEntry'],
  sa: { name: string; namespace: string },
  path: string,
): Promise<string> {
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace: sa.namespace,
    name: sa.name,
    // No audience: the API server's own, whatever the cluster calls it.
    body: { spec: { audiences: [], expirationSeconds: 86_400 } },
  });
  writeSecret(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: DEV_CLUSTER,
          cluster: clusterEntry,
        },
      ],
      users: [{ name: sa.name, user: { token: token.status?.token } }],
      contexts: [{ name: DEV_CLUSTER, context: { cluster: DEV_CLUSTER, user: sa.name } }],
      'current-context': DEV_CLUSTER,
    }),
  );
  return path;
}
