/**
 * The Kubernetes cluster `airlock dev up` runs against: the hermetic cluster
 * it starts itself, or an existing cluster named with `--kubeconfig`.
 *
 * On an existing cluster dev up must leave the cluster as it found it once
 * `dev down` runs, and must never stop it. So every object it creates there
 * is written to a ledger in the state directory the moment the API server
 * accepts it (`cluster-objects.json`); `dev down` deletes exactly those
 * objects, newest first, and nothing that existed before (a create that
 * answers AlreadyExists is not recorded).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AuthorizationV1Api,
  type Cluster,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  VersionApi,
} from '@kubernetes/client-node';
import { AirlockError } from '../../core/errors.js';
import type { HermeticCluster } from './hermetic-cluster.js';

/** What dev up needs to know about its cluster. */
export interface DevKubeTarget {
  /** A kubeconfig with cluster-admin rights; dev up applies RBAC, namespaces and pods with it. */
  readonly kubeconfigPath: string;
  /** The kubeconfig `cluster` entry (server, CA) written into the tiers' ServiceAccount kubeconfigs. */
  readonly clusterEntry: Readonly<Record<string, unknown>>;
  /** Pin the demo pods to this node; absent: the cluster's scheduler places them. */
  readonly nodeName?: string;
  /** The API server's audit log when dev up can read it (the hermetic cluster's); absent otherwise. */
  readonly auditLogPath?: string;
  /** The kubectl the walkthrough prints. */
  readonly kubectl: string;
  /** True when dev up did not start the cluster: `stop` leaves it running. */
  readonly external: boolean;
  /** Process ids dev up started for the cluster (none for an existing one). */
  readonly pids: readonly number[];
  /** Called with each object dev up created (not those that already existed). */
  readonly onCreated?: (object: KubernetesObject) => void;
  stop(): Promise<void>;
}

/** The hermetic cluster dev up started: stopping dev up stops it. */
export function hermeticTarget(cluster: HermeticCluster): DevKubeTarget {
  return {
    kubeconfigPath: cluster.kubeconfigPath,
    clusterEntry: { server: cluster.server, 'certificate-authority': cluster.pki.caCert },
    nodeName: cluster.nodeName,
    auditLogPath: cluster.auditLogPath,
    kubectl: cluster.binaries.kubectl,
    external: false,
    pids: cluster.pids,
    stop: () => cluster.stop(),
  };
}

/** `STATE/cluster-objects.json`: what dev up created in an existing cluster. */
export interface ClusterObjectsLedger {
  /** Absolute path of the kubeconfig dev up used. */
  kubeconfig: string;
  context: string;
  server: string;
  objects: { apiVersion: string; kind: string; name: string; namespace?: string }[];
}

const LEDGER_FILE = 'cluster-objects.json';

export function readLedger(stateDir: string): ClusterObjectsLedger | undefined {
  const path = join(stateDir, LEDGER_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ClusterObjectsLedger;
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Bounds a call to the API server, so an unreachable cluster fails fast with a clear error. */
async function withTimeout<T>(what: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      what,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a client-node call failed, in one line (its errors carry the cause deep inside). */
function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

/** Loads the kubeconfig; its current context must name a cluster and a user. */
function loadKubeconfig(kubeconfigPath: string): { kc: KubeConfig; cluster: Cluster } {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(kubeconfigPath);
  } catch (error) {
    throw new AirlockError(
      'DEV_KUBECONFIG_INVALID',
      `cannot read the kubeconfig ${kubeconfigPath}: ${(error as Error).message}`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster || kc.getCurrentUser() === null) {
    throw new AirlockError(
      'DEV_KUBECONFIG_INVALID',
      `the kubeconfig ${kubeconfigPath} has no usable current context (cluster and user)`,
    );
  }
  return { kc, cluster };
}

/** Checks that the API server answers and that the current user may do anything (cluster-admin). */
async function checkClusterAdmin(
  kc: KubeConfig,
  cluster: Cluster,
  kubeconfigPath: string,
  timeoutMs: number,
): Promise<void> {
  try {
    await withTimeout(kc.makeApiClient(VersionApi).getCode(), timeoutMs);
  } catch (error) {
    throw new AirlockError(
      'DEV_CLUSTER_UNREACHABLE',
      `cannot reach the Kubernetes API server ${cluster.server} (context ${kc.getCurrentContext()} of ${kubeconfigPath}): ${reason(error)}`,
    );
  }
  const review = await withTimeout(
    kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: '*', group: '*', resource: '*' } } },
    }),
    timeoutMs,
  );
  if (review.status?.allowed !== true) {
    throw new AirlockError(
      'KUBERNETES_FORBIDDEN',
      `the user of context ${kc.getCurrentContext()} is not cluster-admin on ${cluster.server}; ` +
        'dev up creates namespaces, ClusterRoles and bindings there',
    );
  }
}

/**
 * The state dir's ledger for this cluster (a new, empty one if there is
 * none), written back at once. USAGE if it records another cluster.
 */
function openLedger(
  stateDir: string,
  kc: KubeConfig,
  cluster: Cluster,
  kubeconfigPath: string,
): { ledger: ClusterObjectsLedger; ledgerPath: string } {
  const ledgerPath = join(stateDir, LEDGER_FILE);
  const ledger: ClusterObjectsLedger = readLedger(stateDir) ?? {
    kubeconfig: kubeconfigPath,
    context: kc.getCurrentContext(),
    server: cluster.server,
    objects: [],
  };
  if (ledger.server !== cluster.server) {
    throw new AirlockError(
      'USAGE',
      `${stateDir} holds objects dev up created in ${ledger.server}; run dev down for it first ` +
        `(or use another --state-dir) before targeting ${cluster.server}`,
    );
  }
  writeFileSync(ledgerPath, `${JSON.stringify(ledger, null, 2)}\n`);
  return { ledger, ledgerPath };
}

/** The kubeconfig `clusters[].cluster` entry the tiers' own kubeconfigs use. */
function clusterEntryOf(cluster: Cluster): Record<string, unknown> {
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  if (cluster.caData) clusterEntry['certificate-authority-data'] = cluster.caData;
  else if (cluster.caFile) clusterEntry['certificate-authority'] = cluster.caFile;
  if (cluster.skipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  if (cluster.tlsServerName) clusterEntry['tls-server-name'] = cluster.tlsServerName;
  return clusterEntry;
}

/**
 * Loads `--kubeconfig FILE` and checks, before anything is created, that the
 * file is usable, the API server answers and the user is cluster-admin
 * (dev up creates namespaces, ClusterRoles and their bindings).
 *
 * Throws DEV_KUBECONFIG_INVALID (unreadable, unparsable, no current
 * context), DEV_CLUSTER_UNREACHABLE (no answer from the server) or
 * KUBERNETES_FORBIDDEN (not cluster-admin).
 */
export async function connectExistingCluster(options: {
  kubeconfigPath: string;
  stateDir: string;
  nodeName?: string;
  /** The kubectl to print in the walkthrough; default `kubectl` from PATH. */
  kubectl?: string;
  timeoutMs?: number;
}): Promise<DevKubeTarget> {
  const kubeconfigPath = resolve(options.kubeconfigPath);
  const { kc, cluster } = loadKubeconfig(kubeconfigPath);
  await checkClusterAdmin(kc, cluster, kubeconfigPath, options.timeoutMs ?? 10_000);
  const { ledger, ledgerPath } = openLedger(options.stateDir, kc, cluster, kubeconfigPath);
  return {
    kubeconfigPath,
    clusterEntry: clusterEntryOf(cluster),
    ...(options.nodeName ? { nodeName: options.nodeName } : {}),
    kubectl: options.kubectl ?? 'kubectl',
    external: true,
    pids: [],
    onCreated: (object) => {
      ledger.objects.push({
        apiVersion: object.apiVersion ?? 'v1',
        kind: object.kind ?? '',
        name: object.metadata?.name ?? '',
        ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
      });
      writeFileSync(ledgerPath, `${JSON.stringify(ledger, null, 2)}\n`);
    },
    // Never stop a cluster dev up did not start.
    stop: async () => {},
  };
}

/**
 * `dev down` for an existing cluster: deletes every object the ledger names,
 * newest first (pods before their namespace), ignoring those already gone.
 * Returns how many it deleted. Throws as `connectExistingCluster` does when
 * the kubeconfig or the cluster cannot be used; the ledger stays then.
 */
export async function deleteCreatedObjects(ledger: ClusterObjectsLedger): Promise<number> {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(ledger.kubeconfig);
    kc.setCurrentContext(ledger.context);
  } catch (error) {
    throw new AirlockError(
      'DEV_KUBECONFIG_INVALID',
      `cannot read the kubeconfig ${ledger.kubeconfig} that dev up used: ${(error as Error).message}`,
    );
  }
  const api = KubernetesObjectApi.makeApiClient(kc);
  let deleted = 0;
  for (const object of [...ledger.objects].reverse()) {
    try {
      await withTimeout(
        api.delete({
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: { name: object.name, ...(object.namespace ? { namespace: object.namespace } : {}) },
        }),
        10_000,
      );
      deleted++;
    } catch (error) {
      if ((error as { code?: number }).code === 404) continue;
      throw new AirlockError(
        (error as { code?: number }).code === undefined ? 'DEV_CLUSTER_UNREACHABLE' : 'KUBERNETES_ERROR',
        `cannot delete ${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name} from ${ledger.server}: ${reason(error)}`,
      );
    }
  }
  return deleted;
}
