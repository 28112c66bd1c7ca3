/**
 * The audit-trail counting the broker replica tests assert on (the replicas
 * themselves: services/broker/replica-process.ts).
 */
import { existsSync, readFileSync } from 'node:fs';

/** A state change as the audit trail records it: event, request, actor (allow decisions only). */
export interface AuditedChange {
  readonly key: string;
  /** Position in its trail (0-based, events only). */
  readonly index: number;
}

const STATE_CHANGES = new Set([
  'request.created',
  'request.approved',
  'request.denied',
  'request.expired',
  'cert.issued',
  'cert.revoked',
]);

/** The key of a state change: `event request_id actor`. */
export function changeKey(event: string, requestId: string, actor: string): string {
  return `${event} ${requestId} ${actor}`;
}

/**
 * The state changes in a trail (events with decision allow, or none for
 * request.created/expired). A last line cut short by SIGKILL is ignored.
 */
export function auditedChanges(path: string): AuditedChange[] {
  if (!existsSync(path)) return [];
  const out: AuditedChange[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const event = record.event;
    if (typeof event !== 'string' || !STATE_CHANGES.has(event) || record.decision === 'deny') continue;
    const actor = (record.actor as { user?: string; kind?: string } | undefined) ?? {};
    out.push({
      key: changeKey(event, String(record.request_id), actor.user ?? actor.kind ?? '?'),
      index: out.length,
    });
  }
  return out;
}
