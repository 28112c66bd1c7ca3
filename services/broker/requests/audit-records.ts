/** The parts every request.* / cert.* audit record of the broker shares: actor, target, request id. */
import type { AuditActor, AuditEventInput } from '../../core/audit/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest } from '../request-store.js';

export function auditActor(actor: Identity | 'system'): AuditActor {
  if (actor === 'system') return { kind: 'system' };
  return { user: actor.user, groups: [...actor.groups], kind: actor.kind === 'human' ? 'user' : 'service' };
}

/** The actor, target and request id of an audit record about `request`. */
export function eventFor(
  request: AccessRequest,
  actor: Identity | 'system',
): Pick<AuditEventInput, 'actor' | 'target' | 'request_id'> {
  return {
    actor: auditActor(actor),
    target: { cluster: request.scope.cluster, namespace: request.scope.namespace },
    request_id: request.id,
  };
}
