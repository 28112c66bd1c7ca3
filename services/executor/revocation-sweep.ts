/**
 * Revocation reaches open sessions too: once a second every session's
 * certificate is checked again against the current revocation lists, and a
 * revoked one is closed at once (its streams end with CERT_REVOKED). When
 * the lists cannot be read, every session is closed (fail closed).
 */
import { AirlockError } from '../core/errors.js';
import { sessionTarget } from '../core/session/audit-records.js';
import { type RevocationList, verifyCertificateWithoutSession } from '../core/ssh-cert/index.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import type { ExecutorSession } from './session-registry.js';

/** How often open sessions are checked. */
export const REVOCATION_SWEEP_MS = 1000;

/** Starts the sweep (an unref'd timer); returns the function that stops it. */
export function startRevocationSweep(rt: ExecutorRuntime): () => void {
  const timer = setInterval(() => sweepRevoked(rt), REVOCATION_SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** One sweep: closes and audits every session whose certificate is now revoked. */
export function sweepRevoked(rt: ExecutorRuntime): void {
  const { deps, sessions } = rt;
  let lists: readonly RevocationList[];
  try {
    lists = deps.revocation();
  } catch (error) {
    rt.log.error({ err: error }, 'revocation lists unreadable; closing every session');
    const reason = new AirlockError('CERT_REVOKED', 'revocation status cannot be checked');
    for (const session of sessions.sweep(() => reason)) auditRevoked(rt, session, reason);
    return;
  }
  const closed = sessions.sweep((session) => {
    try {
      verifyCertificateWithoutSession(session.certificate, {
        trustedCAs: deps.trustedSshCas(),
        principal: session.user,
        now: deps.clock(),
        revocation: lists,
        clientAddress: session.clientAddress,
      });
      return undefined;
    } catch (error) {
      return error instanceof AirlockError && error.code === 'CERT_REVOKED' ? error : undefined;
    }
  });
  for (const session of closed)
    auditRevoked(rt, session, new AirlockError('CERT_REVOKED', 'certificate revoked'));
  if (closed.length > 0) rt.metrics.sessionsActive.set(sessions.size);
}

function auditRevoked(rt: ExecutorRuntime, session: ExecutorSession, reason: AirlockError): void {
  void rt.deps.audit
    .append({
      event: 'session.closed',
      actor: { user: session.user, address: session.clientAddress },
      target: sessionTarget(session),
      decision: 'deny',
      code: reason.code,
      reason: reason.message,
      session_id: session.id,
      request_id: session.scope.requestId,
    })
    .catch((error: unknown) => rt.log.error({ err: error }, 'could not audit a revoked session'));
}
