import type { AuditEventInput } from '../audit/types.js';
import type { Scope } from '../policy/types.js';

/**
 * One opened session as the tiers reason about it: who (user, the groups the
 * executor acts as), what (the `Scope` built by `scopeOf` from the verified
 * certificate), until when, and the ids every audit record of the session
 * carries. Wire messages (`OpenSessionResponse`) are converted into it once,
 * where they are received; nothing past that edge reads the wire shape.
 */
export interface Session {
  /** The mediator's id for the session: one per SSH connection, in every audit record. */
  readonly id: string;
  /** The access request the certificate was issued for (the broker's id). */
  readonly requestId: string;
  /** The certificate principal. */
  readonly user: string;
  /** The Kubernetes groups the executor impersonates for this session. */
  readonly groups: readonly string[];
  readonly scope: Scope;
  /** When the session ends (the certificate's end, or earlier where the executor caps it). */
  readonly expiresAtMs: number;
}

/** The ids an audit record of this session joins on. */
export function sessionAuditIds(session: Session): Pick<AuditEventInput, 'session_id' | 'request_id'> {
  return { session_id: session.id, request_id: session.requestId };
}
