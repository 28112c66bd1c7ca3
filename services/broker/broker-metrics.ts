/**
 * The broker's Prometheus metrics (served on the ops port, services/core/observability/ops-server.ts).
 *
 * Request transitions, decisions and certificates are counted from the audit
 * events the broker has durably written (`withAuditMetrics`), not from
 * separate calls in access-broker.ts: /metrics then never shows a state
 * change the audit trail lacks, and the domain code carries no metrics code.
 * The mapping below follows the events access-broker.ts records.
 */
import { afterAppend } from '../core/audit/after-append.js';
import type { AuditEventInput, AuditTrail } from '../core/audit/index.js';
import type { Metrics } from '../core/observability/ops-server.js';

/** What the HTTP adapter reports. */
export interface BrokerHttpObserver {
  /** An authentication the API refused (AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_UNVERIFIED). */
  authFailed(code: string): void;
  /** One answered HTTP request: the route template (ids replaced), method, status and seconds taken. */
  request(route: string, method: string, status: number, seconds: number): void;
}

export interface BrokerMetrics extends BrokerHttpObserver {
  /** Counts one audit event the broker wrote. */
  observeAudit(event: AuditEventInput): void;
}

/** The broker's counters and histogram, registered on the ops server's registry. */
function registerBrokerMetrics(metrics: Metrics) {
  return {
    transitions: metrics.counter(
      'airlock_broker_request_transitions_total',
      'Access request state changes, by from and to state (from="new" at creation)',
      ['from', 'to'],
    ),
    decisions: metrics.counter(
      'airlock_broker_decisions_total',
      'Decisions on access requests, by who decided (policy, approver, requester), decision and code',
      ['by', 'decision', 'code'],
    ),
    certificates: metrics.counter(
      'airlock_broker_certificates_issued_total',
      'Certificates issued, by kind (ssh, kubernetes)',
      ['kind'],
    ),
    certificateFailures: metrics.counter(
      'airlock_broker_certificate_failures_total',
      'Certificates not issued after approval, by kind and code',
      ['kind', 'code'],
    ),
    authFailures: metrics.counter('airlock_broker_auth_failures_total', 'Refused authentications by code', [
      'code',
    ]),
    httpDuration: metrics.histogram(
      'airlock_broker_http_request_duration_seconds',
      'HTTP API latency by route, method and status',
      ['route', 'method', 'status'],
    ),
  };
}

/** Counts one written audit event: the transition, decision or certificate it records, if any. */
function countAuditEvent(registered: ReturnType<typeof registerBrokerMetrics>, event: AuditEventInput) {
  const { transitions, decisions, certificates, certificateFailures } = registered;
  const transition = (from: string, to: string) => transitions.inc({ from, to });
  const decided = (by: string, decision: string, code = '') => decisions.inc({ by, decision, code });
  const details = (event.details ?? {}) as Record<string, unknown>;
  const allowed = event.decision === 'allow';
  switch (event.event) {
    case 'request.created':
      // auto-approved and denied are counted by the request.approved / request.denied that follow.
      if (details.decision === 'needs-approval') {
        decided('policy', 'needs-approval');
        transition('new', 'pending');
      }
      return;
    case 'request.approved':
      if (!allowed) return decided('approver', 'refused', event.code ?? '');
      if (details.auto === true) {
        decided('policy', 'auto-approved');
        return transition('new', 'approved');
      }
      decided('approver', 'approve');
      if (details.complete === true) transition('pending', 'approved');
      return;
    case 'request.denied':
      if (!allowed && details.by !== 'policy') return decided('approver', 'refused', event.code ?? '');
      if (details.by === 'policy') {
        decided('policy', 'denied', event.code ?? 'REQUEST_DENIED');
        return transition('new', 'denied');
      }
      decided(details.by === 'requester' ? 'requester' : 'approver', 'deny');
      return transition('pending', 'denied');
    case 'request.expired':
      return transition('pending', 'expired');
    case 'cert.revoked':
      if (allowed) transition('approved', 'revoked');
      return;
    case 'cert.issued': {
      const kind = details.kind === 'kube-client' ? 'kubernetes' : 'ssh';
      if (allowed) certificates.inc({ kind });
      else certificateFailures.inc({ kind, code: event.code ?? '' });
      return;
    }
  }
}

/** Registers the broker's metrics; the HTTP adapter and the audit trail report into it. */
export function createBrokerMetrics(metrics: Metrics): BrokerMetrics {
  const registered = registerBrokerMetrics(metrics);
  const { authFailures, httpDuration } = registered;
  return {
    authFailed: (code) => authFailures.inc({ code }),
    request: (route, method, status, seconds) =>
      httpDuration.observe(seconds, { route, method, status: String(status) }),
    observeAudit: (event) => countAuditEvent(registered, event),
  };
}

/** The trail, counting each event once it has been written. */
export function withAuditMetrics(audit: AuditTrail, observe: (event: AuditEventInput) => void): AuditTrail {
  return afterAppend(audit, observe);
}

/** The route template of a path, so ids do not become label values. */
export function routeOf(path: string): string {
  if (path === '/healthz' || path === '/v1/config' || path === '/v1/whoami' || path === '/v1/requests')
    return path;
  const match = /^\/v1\/requests\/[^/]+(\/(approve|deny|certificate|revoke|kube-certificate))?$/.exec(path);
  return match ? `/v1/requests/:id${match[1] ?? ''}` : 'other';
}
