import { readFileSync } from 'node:fs';

export interface TrailEvent {
  type: string;
  event: string;
  session_id?: string;
  decision?: string;
  code?: string;
  actor?: { user?: string };
}

export function readTrail(path: string, users: ReadonlySet<string>): TrailEvent[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TrailEvent)
    .filter((e) => e.type === 'event' && users.has(e.actor?.user ?? ''));
}

/** `event` records per session id. */
export function perSession(events: readonly TrailEvent[], event: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.event !== event || !e.session_id) continue;
    counts.set(e.session_id, (counts.get(e.session_id) ?? 0) + 1);
  }
  return counts;
}

export function sortedCounts(counts: Map<string, number>): number[] {
  return [...counts.values()].sort((a, b) => a - b);
}
