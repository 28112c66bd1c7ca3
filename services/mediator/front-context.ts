import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AuditEventInput, AuditTrail } from '../core/audit/types.js';
import type { Metrics } from '../core/observability/ops-server.js';
import { defaultTracer } from '../core/observability/telemetry.js';

/**
 * What the contexts of the two SSH servers (the mediator's front door,
 * frontend-context.ts, and the jump door, door/door-context.ts) derive alike
 * from their deps.
 */

/**
 * The operator log (`component`), the tracer (the global `tracerName` one
 * when none is given), the audit writer and the per-principal count of
 * authenticated connections.
 */
export function frontContextBase(
  deps: { logger: Logger; tracer?: Tracer; audit: AuditTrail },
  names: { component: string; tracerName: string },
) {
  const log = deps.logger.child({ component: names.component });
  return {
    log,
    tracer: deps.tracer ?? defaultTracer(names.tracerName),
    audit: auditWriter(deps.audit, log),
    sessionsByPrincipal: new Map<string, number>(),
  };
}

/**
 * Appends to the trail, durable when the event carries a decision; a failed
 * append is logged, never thrown.
 */
function auditWriter(
  audit: AuditTrail,
  log: Logger,
): (event: AuditEventInput, durable?: boolean) => Promise<void> {
  return (event, durable = event.decision !== undefined) =>
    audit
      .append(event, { durable })
      .catch((error: unknown) => log.error({ err: error }, 'audit append failed'));
}

/** `airlock_<tier>_auth_failures_total` (refused logins by code) and `airlock_<tier>_connections_active`. */
export function admissionMetrics(metrics: Metrics, tier: 'mediator' | 'door', connectionsHelp: string) {
  return {
    authFailures: metrics.counter(`airlock_${tier}_auth_failures_total`, 'Refused logins by code', ['code']),
    connectionsActive: metrics.gauge(`airlock_${tier}_connections_active`, connectionsHelp),
  };
}
