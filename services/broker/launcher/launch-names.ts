/**
 * Names and labels of one request's ephemeral tier objects. Every object the
 * launcher creates is named after the request (`airlock-req-<hex>`, the hex of
 * its id) and carries the labels below, so the sweep can find leftovers by
 * label alone and the jump door can find a request's mediator Service by
 * `airlock.dev/request-id=<id>,airlock.dev/tier=mediator`.
 *
 * Pure: no I/O.
 */
import { AirlockError } from '../../core/errors.js';

/** The two tiers that run per request. */
export type EphemeralTier = 'mediator' | 'executor';

/** Label keys; the values are a request id, a tier and `ephemeral`. */
export const LAUNCH_LABEL = {
  requestId: 'airlock.dev/request-id',
  tier: 'airlock.dev/tier',
  mode: 'airlock.dev/mode',
} as const;

const MANAGED = {
  'app.kubernetes.io/managed-by': 'airlock',
  'app.kubernetes.io/part-of': 'airlock',
} as const;

/** Selects every object of every request the launcher made (the sweep lists with it). */
export const EPHEMERAL_SELECTOR = `app.kubernetes.io/managed-by=airlock,${LAUNCH_LABEL.mode}=ephemeral`;

/** The mediator's SSH port and the executor's gRPC port, as the standing tiers listen. */
export const MEDIATOR_SSH_PORT = 2222;
export const EXECUTOR_GRPC_PORT = 7443;

const REQUEST_ID = /^req-([0-9a-f]{20})$/;

/** The names of one request's objects. */
export interface LaunchNames {
  readonly requestId: string;
  /** The owner ConfigMap; every namespaced object has an ownerReference to it. */
  readonly owner: string;
  /** ServiceAccount, Pod and Service of a tier share this name. */
  readonly tier: Readonly<Record<EphemeralTier, string>>;
  /** The Secret holding a tier's per-request credentials. */
  readonly secret: Readonly<Record<EphemeralTier, string>>;
  /** The executor's per-request ClusterRole and ClusterRoleBinding (cluster-scoped: no owner). */
  readonly clusterRole: string;
}

/** The names for request `requestId`; throws USAGE for an id that is not `req-<20 hex>`. */
export function launchNames(requestId: string): LaunchNames {
  const hex = REQUEST_ID.exec(requestId)?.[1];
  if (hex === undefined) throw new AirlockError('USAGE', `not a request id: ${JSON.stringify(requestId)}`);
  const owner = `airlock-req-${hex}`;
  return {
    requestId,
    owner,
    tier: { mediator: `${owner}-mediator`, executor: `${owner}-executor` },
    secret: { mediator: `${owner}-mediator-tls`, executor: `${owner}-executor-tls` },
    clusterRole: `${owner}-executor`,
  };
}

/** True when `value` is a request id the launcher names objects after. */
export function isLaunchRequestId(value: string | undefined): value is string {
  return value !== undefined && REQUEST_ID.test(value);
}

/** The labels of one request's objects; `tier` for those that belong to one tier. */
export function launchLabels(requestId: string, tier?: EphemeralTier): Record<string, string> {
  return {
    ...MANAGED,
    [LAUNCH_LABEL.requestId]: requestId,
    [LAUNCH_LABEL.mode]: 'ephemeral',
    ...(tier === undefined ? {} : { [LAUNCH_LABEL.tier]: tier }),
  };
}

/** The labels a tier's Service selects its pod by. */
export function podSelector(requestId: string, tier: EphemeralTier): Record<string, string> {
  return { [LAUNCH_LABEL.requestId]: requestId, [LAUNCH_LABEL.tier]: tier };
}

/** The DNS name of a tier's Service in `namespace` (what the other tier dials and its cert names). */
export function serviceHost(names: LaunchNames, tier: EphemeralTier, namespace: string): string {
  return `${names.tier[tier]}.${namespace}.svc`;
}
