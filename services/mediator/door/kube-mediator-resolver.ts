import { CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { AirlockError } from '../../core/errors.js';
import type { MediatorAddress, MediatorResolver } from './mediator-resolver.js';

/**
 * The labels the launcher puts on a request's mediator Service, and the name
 * of the Service port the mediator's SSH server is behind: the contract
 * between the launcher and the door.
 */
export const MEDIATOR_SERVICE = {
  requestIdLabel: 'airlock.dev/request-id',
  tierLabel: 'airlock.dev/tier',
  tier: 'mediator',
  portName: 'ssh',
} as const;

/** A Kubernetes label value (at most 63 characters, alphanumeric at both ends, `-_.` inside). */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)$/;

/**
 * The label selector naming `requestId`'s mediator Service. The id comes from
 * a verified certificate, but it is still checked to be a label value, so it
 * cannot add terms to the selector (`req-a,airlock.dev/tier!=x`): an id that
 * is no label value can name no Service, and the door refuses at once.
 */
export function mediatorSelector(requestId: string): string {
  if (!LABEL_VALUE.test(requestId)) {
    throw new AirlockError(
      'DOOR_DESTINATION_REFUSED',
      'the certificate names a request id no mediator can carry (not a Kubernetes label value)',
    );
  }
  return `${MEDIATOR_SERVICE.requestIdLabel}=${requestId},${MEDIATOR_SERVICE.tierLabel}=${MEDIATOR_SERVICE.tier}`;
}

/** The Service's ClusterIP and `ssh` port, or undefined while it has none. */
function addressOf(service: V1Service): MediatorAddress | undefined {
  const host = service.spec?.clusterIP;
  const port = service.spec?.ports?.find((p) => p.name === MEDIATOR_SERVICE.portName)?.port;
  if (!host || host === 'None' || port === undefined) return undefined;
  return { host, port };
}

/**
 * Finds a request's mediator by listing the Services of the airlock
 * namespace with the request's labels (RBAC: `list` on `services` there,
 * nothing else). Exactly one Service must match: two are refused
 * (MEDIATOR_NOT_READY) rather than one picked, since only the launcher
 * should create them. Errors of the API call reject as they are, so the
 * door retries them within its wait bound.
 */
export function createKubeMediatorResolver(kubeConfig: KubeConfig, namespace: string): MediatorResolver {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async resolve(requestId) {
      const labelSelector = mediatorSelector(requestId);
      const list = await core.listNamespacedService({ namespace, labelSelector });
      if (list.items.length > 1) {
        throw new AirlockError(
          'MEDIATOR_NOT_READY',
          'more than one mediator Service names this request; the operator must remove the stray one',
        );
      }
      const [service] = list.items;
      return service === undefined ? undefined : addressOf(service);
    },
  };
}
