/**
 * The `TierLauncher` on the Kubernetes API (@kubernetes/client-node).
 *
 * One launch, in order: the owner ConfigMap (`airlock-req-<hex>`, holding both
 * tiers' config files), the executor's per-request ClusterRole and
 * ClusterRoleBinding, then — each with an ownerReference to the owner — the
 * two ServiceAccounts, the two credential Secrets, the two Services and the
 * two Pods. Deleting the owner lets the garbage collector delete every
 * namespaced object; the cluster-scoped role and binding cannot have a
 * namespaced owner, so `remove` deletes them by name and the sweep finds any
 * left by their labels. `remove` also deletes the pods directly, so a
 * revocation ends the sessions without waiting for the garbage collector.
 * `restore` (kube-tier-pods.ts) replaces a live request's pod that is gone.
 */
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1OwnerReference,
} from '@kubernetes/client-node';
import { AirlockError } from '../../core/errors.js';
import type { SshPrivateKey } from '../../core/ssh-cert/index.js';
import { createTierPod, type PodOptions, restoreTierPods, TIERS } from './kube-tier-pods.js';
import {
  EPHEMERAL_SELECTOR,
  type EphemeralTier,
  isLaunchRequestId,
  LAUNCH_LABEL,
  type LaunchNames,
  launchLabels,
  launchNames,
} from './launch-names.js';
import { executorConfig, mediatorConfig } from './tier-configs.js';
import { createTierSecrets } from './tier-credentials.js';
import type { LaunchInput, LaunchResult, TierLauncher } from './tier-launcher.js';
import { remainingSeconds } from './tier-launcher.js';
import { tierService } from './tier-pods.js';
import { requestExecutorRbac } from './tier-rbac.js';

/** Options of {@link createKubeTierLauncher}. */
export interface KubeTierLauncherOptions extends PodOptions {
  /** The broker's launcher identity (deploy/components/ephemeral-tiers RBAC). */
  readonly kubeConfig: KubeConfig;
  /** The cluster name the executors serve (executor config `cluster`). */
  readonly cluster: string;
  /** The airlock host CA: signs each mediator's host certificate for its request id. */
  readonly hostCa: SshPrivateKey;
}

/** Less access than this left: nothing is launched (a CA must live at least 60 s). */
const MIN_LAUNCH_SECONDS = 60;

const statusOf = (error: unknown): number | undefined =>
  error instanceof ApiException ? error.code : undefined;

/** Kubernetes' own reason (the Status object's message), else the error's message. */
export function kubeReason(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    try {
      const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
      if (typeof status?.message === 'string') return status.message;
    } catch {
      // not JSON: fall through
    }
    return `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Runs `call`, answering false for 404 (already gone) and true when it deleted something. */
async function deleted(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw error;
  }
}

/** The two API groups a launch writes to. */
interface KubeClients {
  readonly core: CoreV1Api;
  readonly rbac: RbacAuthorizationV1Api;
}

/** Refuses a launch with under a minute of access left, for another cluster, or without a jit: group. */
function assertLaunchable(input: LaunchInput, cluster: string, seconds: number): void {
  if (seconds < MIN_LAUNCH_SECONDS) {
    throw new AirlockError(
      'LAUNCH_FAILED',
      `less than ${MIN_LAUNCH_SECONDS} s of access left (${seconds} s)`,
    );
  }
  if (input.cluster !== cluster) {
    throw new AirlockError(
      'LAUNCH_FAILED',
      `request is for cluster ${input.cluster}; this broker launches tiers for ${cluster}`,
    );
  }
  if (input.groups.length === 0) {
    throw new AirlockError('LAUNCH_FAILED', 'the request names no jit: group for its executor');
  }
}

/** The owner ConfigMap's files: the request, and both tiers' config files. */
function ownerConfigMapData(
  names: LaunchNames,
  input: LaunchInput,
  options: Pick<KubeTierLauncherOptions, 'namespace' | 'cluster'>,
  seconds: number,
): Record<string, string> {
  const { namespace, cluster } = options;
  return {
    'request.json': `${JSON.stringify({
      requestId: input.requestId,
      accessExpiresAt: input.accessExpiresAt.toISOString(),
      groups: input.groups,
    })}\n`,
    'mediator.json': `${JSON.stringify(mediatorConfig(names, { namespace }), null, 2)}\n`,
    'executor.json': `${JSON.stringify(
      executorConfig(names, {
        namespace,
        cluster,
        lifetimeSeconds: seconds,
        approvedAt: input.approvedAt,
      }),
      null,
      2,
    )}\n`,
  };
}

/**
 * Creates the objects the owner ConfigMap owns: per tier a ServiceAccount, a
 * credential Secret and a Service, then the two Pods. Returns the mediator's
 * host key and certificate.
 */
async function createOwnedObjects(
  core: CoreV1Api,
  options: KubeTierLauncherOptions,
  launch: { names: LaunchNames; input: LaunchInput; owner: V1OwnerReference; seconds: number },
): Promise<Pick<LaunchResult, 'hostPublicKey' | 'hostCertificate'>> {
  const { namespace } = options;
  const { names, input, owner, seconds } = launch;
  const secrets = await createTierSecrets(input.requestId, input.now, seconds, options.hostCa);
  const meta = (tier: EphemeralTier, name: string) => ({
    name,
    labels: launchLabels(input.requestId, tier),
    ownerReferences: [owner],
  });
  for (const tier of TIERS) {
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: meta(tier, names.tier[tier]), automountServiceAccountToken: false },
    });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: meta(tier, names.secret[tier]), type: 'Opaque', stringData: { ...secrets[tier] } },
    });
    const service = tierService(tier, names);
    await core.createNamespacedService({
      namespace,
      body: { ...service, metadata: { ...service.metadata, ownerReferences: [owner] } },
    });
  }
  for (const tier of TIERS) await createTierPod(core, options, { names, tier, seconds, owner });
  return { hostPublicKey: secrets.hostPublicKey, hostCertificate: secrets.hostCertificate };
}

/** Deletes a request's cluster role and binding, its pods and its owner; true when anything was there. */
async function removeLaunch(
  { core, rbac }: KubeClients,
  namespace: string,
  requestId: string,
): Promise<boolean> {
  const names = launchNames(requestId);
  const results = [
    await deleted(() => rbac.deleteClusterRoleBinding({ name: names.clusterRole })),
    await deleted(() => rbac.deleteClusterRole({ name: names.clusterRole })),
  ];
  for (const tier of TIERS) {
    results.push(await deleted(() => core.deleteNamespacedPod({ name: names.tier[tier], namespace })));
  }
  results.push(
    await deleted(() =>
      core.deleteNamespacedConfigMap({ name: names.owner, namespace, propagationPolicy: 'Background' }),
    ),
  );
  return results.some(Boolean);
}

/** The request ids of every owner ConfigMap, cluster role and binding the launcher labelled, sorted. */
async function listLaunchedRequestIds({ core, rbac }: KubeClients, namespace: string): Promise<string[]> {
  const lists = await Promise.all([
    core.listNamespacedConfigMap({ namespace, labelSelector: EPHEMERAL_SELECTOR }),
    rbac.listClusterRole({ labelSelector: EPHEMERAL_SELECTOR }),
    rbac.listClusterRoleBinding({ labelSelector: EPHEMERAL_SELECTOR }),
  ]);
  const ids = new Set<string>();
  for (const list of lists) {
    for (const item of list.items) {
      const id = item.metadata?.labels?.[LAUNCH_LABEL.requestId];
      if (isLaunchRequestId(id)) ids.add(id);
    }
  }
  return [...ids].sort();
}

/** Creates the launcher. */
export function createKubeTierLauncher(options: KubeTierLauncherOptions): TierLauncher {
  const { namespace } = options;
  const clients: KubeClients = {
    core: options.kubeConfig.makeApiClient(CoreV1Api),
    rbac: options.kubeConfig.makeApiClient(RbacAuthorizationV1Api),
  };
  const { core, rbac } = clients;
  const remove = (requestId: string) => removeLaunch(clients, namespace, requestId);

  async function launch(input: LaunchInput): Promise<LaunchResult> {
    const names = launchNames(input.requestId);
    const seconds = remainingSeconds(input.accessExpiresAt, input.now);
    assertLaunchable(input, options.cluster, seconds);
    let ownerMade = false;
    try {
      const created = await core.createNamespacedConfigMap({
        namespace,
        body: {
          metadata: { name: names.owner, labels: launchLabels(input.requestId) },
          data: ownerConfigMapData(names, input, options, seconds),
        },
      });
      ownerMade = true;
      const uid = created.metadata?.uid;
      if (!uid) throw new AirlockError('LAUNCH_FAILED', 'the owner ConfigMap came back without a uid');
      const owner: V1OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: names.owner, uid };
      const [role, binding] = requestExecutorRbac(names, namespace, input.groups);
      await rbac.createClusterRole({ body: role as unknown as V1ClusterRole });
      await rbac.createClusterRoleBinding({ body: binding as unknown as V1ClusterRoleBinding });
      const host = await createOwnedObjects(core, options, { names, input, owner, seconds });
      return { owner: names.owner, namespace, activeDeadlineSeconds: seconds, ...host };
    } catch (error) {
      // A 409 on the owner: this request's objects exist already (another launch); leave them.
      if (ownerMade || statusOf(error) !== 409) await remove(input.requestId).catch(() => false);
      if (error instanceof AirlockError && error.code === 'LAUNCH_FAILED') throw error;
      throw new AirlockError('LAUNCH_FAILED', kubeReason(error), { cause: error });
    }
  }

  return {
    namespace,
    launch,
    remove,
    restore: (input) => restoreTierPods(core, options, input),
    launchedRequestIds: () => listLaunchedRequestIds(clients, namespace),
  };
}
