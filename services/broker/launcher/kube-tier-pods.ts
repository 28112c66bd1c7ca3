/**
 * A request's tier pods on the Kubernetes API: creating one (at launch, and
 * again when a live request's pod is gone) and restoring the missing ones.
 *
 * Why replace rather than fail the request: everything a tier pod needs
 * outlives it — the owner ConfigMap (both config files), the ServiceAccounts,
 * the credential Secrets (mTLS identities and the mediator's host
 * certificate, valid until the request ends) and the Services, whose
 * selectors pick up the new pod. Only the pod is made again, with
 * `activeDeadlineSeconds` = the access left, so it still ends with the
 * request. The executor's bound token is new (it was bound to the old pod).
 * The replacement's login record starts empty (an emptyDir): a login the
 * dead executor accepted could be accepted once more by its replacement.
 * Only this request's own mediator has seen such a login (each signed
 * userauth request names one SSH session with it), so the exposure stays
 * within the request's scope and lifetime (docs/architecture.md "Ephemeral
 * mode").
 */
import type { CoreV1Api, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { type EphemeralTier, LAUNCH_LABEL, type LaunchNames, launchNames } from './launch-names.js';
import type { RestoreInput } from './tier-launcher.js';
import { remainingSeconds } from './tier-launcher.js';
import { tierPod } from './tier-pods.js';

export const TIERS: readonly EphemeralTier[] = ['executor', 'mediator'];

/** What creating a tier pod takes from the launcher's options (`KubeTierLauncherOptions` extends it). */
export interface PodOptions {
  /** Where the per-request objects live (the airlock namespace). */
  readonly namespace: string;
  readonly images: { readonly mediator: string; readonly executor: string };
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Config `launcher.auditStore`: every pod ships its trail there (tier-audit-agent.ts). */
  readonly auditStore?: { readonly endpoint: string; readonly agentImage: string };
}

/** Less access than this left: a gone pod is not replaced (it would end at once). */
const MIN_RESTORE_SECONDS = 10;

/** Creates the pod of `tier`, owned by `owner`, ending after `seconds`. */
export async function createTierPod(
  core: CoreV1Api,
  options: PodOptions,
  pod: { names: LaunchNames; tier: EphemeralTier; seconds: number; owner: V1OwnerReference },
): Promise<void> {
  const pull = options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {};
  const store = options.auditStore;
  const body = tierPod(pod.tier, {
    names: pod.names,
    image: options.images[pod.tier],
    activeDeadlineSeconds: pod.seconds,
    ...pull,
    ...(store ? { auditAgent: { image: store.agentImage, storeEndpoint: store.endpoint, ...pull } } : {}),
  });
  await core.createNamespacedPod({
    namespace: options.namespace,
    body: { ...body, metadata: { ...body.metadata, ownerReferences: [pod.owner] } },
  });
}

/** The request's owner ConfigMap as an owner reference, or undefined when it is gone. */
async function ownerOf(core: CoreV1Api, namespace: string, names: LaunchNames) {
  const listed = await core.listNamespacedConfigMap({
    namespace,
    labelSelector: `${LAUNCH_LABEL.requestId}=${names.requestId}`,
  });
  const owner = listed.items.find((item) => item.metadata?.name === names.owner);
  const uid = owner?.metadata?.uid;
  if (!uid || owner?.metadata?.deletionTimestamp) return undefined;
  const ref: V1OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: names.owner, uid };
  return ref;
}

/** A pod that has ended and will not run again (restartPolicy Always: only eviction or the deadline). */
const ended = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp && (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded');

/**
 * `TierLauncher.restore` on the API: lists the request's pods; deletes an
 * ended one (the next sweep replaces it) and creates a missing one.
 */
export async function restoreTierPods(
  core: CoreV1Api,
  options: PodOptions,
  input: RestoreInput,
): Promise<EphemeralTier[]> {
  const { namespace } = options;
  const names = launchNames(input.requestId);
  const seconds = remainingSeconds(input.accessExpiresAt, input.now);
  if (seconds < MIN_RESTORE_SECONDS) return [];
  const pods = await core.listNamespacedPod({
    namespace,
    labelSelector: `${LAUNCH_LABEL.requestId}=${input.requestId}`,
  });
  const present = new Map(pods.items.map((pod) => [pod.metadata?.name, pod]));
  const missing: EphemeralTier[] = [];
  for (const tier of TIERS) {
    const pod = present.get(names.tier[tier]);
    if (!pod) missing.push(tier);
    else if (ended(pod)) await core.deleteNamespacedPod({ name: names.tier[tier], namespace });
  }
  if (missing.length === 0) return [];
  const owner = await ownerOf(core, namespace, names);
  if (!owner) return [];
  for (const tier of missing) await createTierPod(core, options, { names, tier, seconds, owner });
  return missing;
}
