/**
 * The parts every audit record of a session shares, built from the one
 * session model instead of by hand at each event: who acted (`auditBase`),
 * what the session is for (`sessionTarget`) and what an intent acts on
 * (`auditTargetOf`). docs/audit.md describes the fields.
 */
import type { AuditEventInput, AuditTarget } from '../audit/types.js';
import type { Action, Intent } from '../policy/types.js';

/**
 * The session facts an audit record names (a structural subset of the
 * tiers' session models, so each passes its own session as it is).
 */
export interface AuditedSession {
  readonly id: string;
  /** The access request the certificate was issued for. */
  readonly requestId: string;
  /** The person: the SSH principal. */
  readonly user: string;
  /** The `jit:` groups the session acts as. */
  readonly groups: readonly string[];
  /** Where the user connected from, `ip:port`, when the tier knows it. */
  readonly clientAddress?: string | undefined;
}

/** The trace a record belongs to (the span of the call that wrote it). */
export interface AuditTraceIds {
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
}

/** Actor, session, request and trace ids of a record about one call of `session`. */
export function auditBase(
  session: AuditedSession,
  ids: AuditTraceIds,
): Pick<AuditEventInput, 'actor' | 'session_id' | 'request_id' | 'trace_id' | 'span_id'> {
  return {
    actor: { user: session.user, groups: [...session.groups], address: session.clientAddress },
    session_id: session.id,
    request_id: session.requestId,
    trace_id: ids.traceId,
    span_id: ids.spanId,
  };
}

/** The target of a record about the session as a whole (opened, closed, expired). */
export function sessionTarget(session: {
  readonly scope: { readonly cluster: string; readonly namespace: string };
}): AuditTarget {
  return { cluster: session.scope.cluster, namespace: session.scope.namespace };
}

/** The Kubernetes subresource each pod action acts on, as audit targets name it. */
export const ACTION_RESOURCE: Readonly<Record<Exclude<Action, 'get' | 'list'>, string>> = {
  exec: 'pods/exec',
  shell: 'pods/exec',
  debug: 'pods/ephemeralcontainers',
  logs: 'pods/log',
  'port-forward': 'pods/portforward',
};

/**
 * What an intent acts on, for its audit records. `command` is the command
 * line the record shows for exec, shell and debug (default: the intent's
 * argv; a shell without one shows `[]`). The container is left out: the
 * caller adds it once the pod's default container is known.
 */
export function auditTargetOf(intent: Intent, command?: readonly string[]): AuditTarget {
  const base: AuditTarget = {
    cluster: intent.cluster,
    namespace: intent.namespace || undefined,
    ...(intent.pod === undefined ? {} : { pod: intent.pod }),
  };
  switch (intent.action) {
    case 'get':
    case 'list':
      return { ...base, resource: intent.resource };
    case 'logs':
      return { ...base, resource: ACTION_RESOURCE.logs };
    case 'port-forward':
      return {
        ...base,
        resource: ACTION_RESOURCE['port-forward'],
        ...(typeof intent.port === 'number' ? { port: intent.port } : {}),
      };
    default:
      return { ...base, resource: ACTION_RESOURCE[intent.action], argv: [...(command ?? intent.argv ?? [])] };
  }
}
