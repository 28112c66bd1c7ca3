/**
 * What a reviewer counts on the timeline page: the outcome of each entry,
 * access that began after a revocation, and one summary per request (who,
 * what, when, how long, decisions, anomalies). Pure.
 *
 * Two counting rules matter:
 * - A stream or session that airlock ended because the access was revoked
 *   or expired is recorded with `decision: "deny"` and `CERT_REVOKED` /
 *   `SESSION_EXPIRED` on its closing event (`session.closed`, `exec.exited`,
 *   `logs.streamed`). That is a forced close, not a refused request: it is
 *   counted as `closed`, not `denied`.
 * - Access after revocation is judged by when the action *began*: a
 *   Kubernetes event's `requestReceivedTimestamp` (`started`), not its
 *   `stageTimestamp`. A `get pods/log -> 200` received before the
 *   revocation and completed after it (the stream that revocation cut) is
 *   not access after revocation.
 */
import type { TimelineEntry } from './timeline-entry.js';

/** What an entry amounts to for counting. */
export type TimelineOutcome = 'allow' | 'deny' | 'closed' | undefined;

/** Events that end something already allowed. */
const CLOSING_EVENTS: ReadonlySet<string> = new Set([
  'session.closed',
  'session.expired',
  'exec.exited',
  'logs.streamed',
  'connection.closed',
  'moderation.terminated',
]);

/** Codes with which airlock ends allowed access early. */
const FORCED_CLOSE_CODES: ReadonlySet<string> = new Set(['CERT_REVOKED', 'SESSION_EXPIRED']);

/** `closed` for a revocation- or expiry-forced close, else the entry's decision. */
export function entryOutcome(e: TimelineEntry): TimelineOutcome {
  if (e.decision === 'deny' && CLOSING_EVENTS.has(e.event) && FORCED_CLOSE_CODES.has(e.code ?? ''))
    return 'closed';
  return e.decision;
}

/** When the entry's action began (ms). */
export function entryStartMs(e: TimelineEntry): number {
  const started = e.started === undefined ? Number.NaN : Date.parse(e.started);
  return Number.isNaN(started) ? Date.parse(e.time) : started;
}

/** A successful revocation by the broker. */
export function isRevocation(e: TimelineEntry): boolean {
  return e.event === 'cert.revoked' && e.decision === 'allow';
}

/** The earliest revocation time (ms) per request id. */
export function revocationTimes(entries: readonly TimelineEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries) {
    if (!isRevocation(e) || e.request_id === undefined) continue;
    const ms = Date.parse(e.time);
    const seen = out.get(e.request_id);
    if (seen === undefined || ms < seen) out.set(e.request_id, ms);
  }
  return out;
}

/**
 * The entries that show access allowed to begin after its request was
 * revoked: an allowed, non-closing entry of a gateway tier or the API
 * server whose start lies after the revocation.
 */
export function accessAfterRevocation(entries: readonly TimelineEntry[]): Set<TimelineEntry> {
  const revoked = revocationTimes(entries);
  const out = new Set<TimelineEntry>();
  for (const e of entries) {
    if (e.lane === 'broker' || e.request_id === undefined || entryOutcome(e) !== 'allow') continue;
    if (CLOSING_EVENTS.has(e.event)) continue;
    const at = revoked.get(e.request_id);
    if (at !== undefined && entryStartMs(e) > at) out.add(e);
  }
  return out;
}

/** The summary of one request (or, without a request id, one session). */
export interface TimelineGroupSummary {
  /** `request req_…`, `session ses_…`, or `unattributed`. */
  readonly label: string;
  readonly requestId: string | undefined;
  readonly users: readonly string[];
  readonly sessions: readonly string[];
  /** What was asked for, and the distinct actions allowed. */
  readonly what: readonly string[];
  readonly first: string;
  readonly last: string;
  readonly durationMs: number;
  readonly allowed: number;
  readonly denied: number;
  /** Forced closes (revocation, expiry). */
  readonly closed: number;
  readonly revokedAt: string | undefined;
  /** Human-readable anomalies, empty when none. */
  readonly anomalies: readonly string[];
}

function groupKey(e: TimelineEntry): string {
  if (e.request_id !== undefined) return `request ${e.request_id}`;
  if (e.session_id !== undefined) return `session ${e.session_id}`;
  return 'unattributed';
}

const WHAT_LIMIT = 6;

function summariseGroup(label: string, group: readonly TimelineEntry[], after: Set<TimelineEntry>) {
  const distinct = (values: (string | undefined)[]) =>
    [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))].sort();
  const asked = group.filter((e) => e.event === 'request.created').map((e) => `asked: ${e.target}`);
  const actions = distinct(
    group
      .filter((e) => e.lane === 'mediator' && e.event === 'intent.allowed')
      .map((e) => e.target || undefined),
  );
  const what = [...asked, ...actions.slice(0, WHAT_LIMIT)];
  if (actions.length > WHAT_LIMIT) what.push(`+${actions.length - WHAT_LIMIT} more`);
  const times = group.map((e) => Math.min(entryStartMs(e), Date.parse(e.time)));
  const ends = group.map((e) => Date.parse(e.time));
  const firstMs = times.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
  const lastMs = ends.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY);
  const outcomes = group.map(entryOutcome);
  const revocation = group.find(isRevocation);
  const lateAccess = group.filter((e) => after.has(e)).length;
  const orphans = group.filter((e) => e.lane === 'orphan').length;
  const anomalies: string[] = [];
  if (lateAccess > 0) anomalies.push(`${lateAccess} access after revocation`);
  if (orphans > 0) anomalies.push(`${orphans} orphan${orphans === 1 ? '' : 's'}`);
  return {
    label,
    requestId: group.find((e) => e.request_id !== undefined)?.request_id,
    users: distinct(group.map((e) => e.user)),
    sessions: distinct(group.map((e) => e.session_id)),
    what,
    first: new Date(firstMs).toISOString(),
    last: new Date(lastMs).toISOString(),
    durationMs: lastMs - firstMs,
    allowed: outcomes.filter((o) => o === 'allow').length,
    denied: outcomes.filter((o) => o === 'deny').length,
    closed: outcomes.filter((o) => o === 'closed').length,
    revokedAt: revocation?.time,
    anomalies,
  };
}

/** One summary per request (sessions without a request id on their own), in order of first entry. */
export function summariseTimeline(entries: readonly TimelineEntry[]): TimelineGroupSummary[] {
  const groups = new Map<string, TimelineEntry[]>();
  for (const e of entries) {
    const key = groupKey(e);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [e]);
    else list.push(e);
  }
  const after = accessAfterRevocation(entries);
  return [...groups.entries()]
    .map(([label, group]) => summariseGroup(label, group, after))
    .sort((a, b) => Date.parse(a.first) - Date.parse(b.first));
}

/** `1.2 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
