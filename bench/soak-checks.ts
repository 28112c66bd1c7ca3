/**
 * The soak run's checks (soak.ts): the client's outcomes, both tiers' audit
 * trails against them, and the tiers' memory after warm-up.
 */
import type { SessionRun } from './soak-session.js';
import { perSession, sortedCounts, type TrailEvent } from './soak-trail.js';
import { median } from './stats.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Trails {
  mediator: TrailEvent[];
  executor: TrailEvent[];
}

export interface MemorySample {
  at_s: number;
  mediator_kib: number;
  executor_kib: number;
}

const count = (events: TrailEvent[], event: string) => events.filter((e) => e.event === event).length;

/** Every session opened; no command's outcome unexpected. */
export function outcomeChecks(runs: readonly SessionRun[]): Check[] {
  const outcomes = runs.flatMap((r) => r.outcomes);
  const unexpected = outcomes.filter((o) => !o.ok);
  const sessionErrors = runs.filter((r) => r.error);
  return [
    {
      name: 'every session opened',
      ok: sessionErrors.length === 0,
      detail: `${runs.length - sessionErrors.length} of ${runs.length}${sessionErrors[0] ? `; first error: ${sessionErrors[0].error}` : ''}`,
    },
    {
      name: 'zero unexpected outcomes',
      ok: unexpected.length === 0 && outcomes.length > 0,
      detail: `${unexpected.length} unexpected of ${outcomes.length} commands`,
    },
  ];
}

/** Both trails hold every session and every intent the client saw, in total. */
export function trailChecks(trails: Trails, sessions: number, allowed: number, denied: number): Check[] {
  const checks: Check[] = [];
  for (const tier of ['mediator', 'executor'] as const) {
    const events = trails[tier];
    const opened = count(events, 'session.opened');
    const closed = count(events, 'session.closed');
    checks.push({
      name: `${tier}: every session opened and closed in the trail`,
      ok: opened === sessions && closed === sessions,
      detail: `client ${sessions}; session.opened ${opened}, session.closed ${closed}`,
    });
    const allowedInTrail = count(events, 'intent.allowed');
    checks.push({
      name: `${tier}: every allowed intent in the trail`,
      ok: allowedInTrail === allowed,
      detail: `client ${allowed}; intent.allowed ${allowedInTrail}`,
    });
  }
  const mediatorDenied = count(trails.mediator, 'intent.denied');
  const executorDenied = count(trails.executor, 'intent.denied');
  checks.push({
    name: 'mediator: every denied intent in the trail; the executor saw none',
    ok: mediatorDenied === denied && executorDenied === 0,
    detail: `client ${denied}; mediator intent.denied ${mediatorDenied}, executor intent.denied ${executorDenied}`,
  });
  return checks;
}

/** Per session: the same session ids, and the same number of allowed intents each, in both tiers and the client. */
export function perSessionChecks(trails: Trails, runs: readonly SessionRun[]): Check[] {
  const mediatorPer = perSession(trails.mediator, 'intent.allowed');
  const executorPer = perSession(trails.executor, 'intent.allowed');
  const mediatorIds = new Set(
    trails.mediator.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const executorIds = new Set(
    trails.executor.filter((e) => e.event === 'session.opened').map((e) => e.session_id),
  );
  const sameIds =
    mediatorIds.size === executorIds.size && [...mediatorIds].every((id) => executorIds.has(id));
  const mismatched = [...mediatorPer].filter(([id, n]) => executorPer.get(id) !== n).length;
  const clientPer = runs.map((r) => r.outcomes.filter((o) => o.allowed).length).filter((n) => n > 0);
  return [
    {
      name: 'both trails: the same sessions, each with the same number of allowed intents',
      ok: sameIds && mismatched === 0 && mediatorPer.size === executorPer.size,
      detail: `${mediatorIds.size} session ids in the mediator, ${executorIds.size} in the executor; ${mismatched} sessions with differing counts`,
    },
    {
      name: 'per session: the client’s allowed counts match the trail’s',
      ok: JSON.stringify(clientPer.sort((a, b) => a - b)) === JSON.stringify(sortedCounts(mediatorPer)),
      detail: `${clientPer.length} sessions with allowed commands`,
    },
  ];
}

/** Each tier's RSS growth in percent from the end of warm-up (a third of the run) to the end; null with too few samples. */
export function memoryGrowth(
  memory: readonly MemorySample[],
  durationMs: number,
): Record<string, number | null> {
  const warm = memory.filter((m) => m.at_s * 1000 >= durationMs / 3);
  const growth: Record<string, number | null> = {};
  for (const tier of ['mediator', 'executor'] as const) {
    const key = `${tier}_kib` as const;
    if (warm.length < 4) {
      growth[tier] = null;
      continue;
    }
    const start = median(warm.slice(0, 3).map((m) => m[key]));
    const end = median(warm.slice(-3).map((m) => m[key]));
    growth[tier] = Math.round(((end - start) / start) * 1000) / 10;
  }
  return growth;
}

/** Each tier's RSS grows less than 10 % after warm-up. */
export function memoryChecks(growth: Record<string, number | null>): Check[] {
  const checks: Check[] = [];
  for (const tier of ['mediator', 'executor'] as const) {
    const g = growth[tier];
    checks.push({
      name: `${tier}: RSS grows less than 10 % after warm-up`,
      ok: g !== null && g !== undefined && g < 10,
      detail: g === null ? 'too few samples (run longer than 30 s)' : `${g} %`,
    });
  }
  return checks;
}
