/**
 * One time-ordered story of a session across the three airlock trails and
 * the Kubernetes API server's own audit log. Pure: callers read the files
 * (`airlock audit timeline`), these functions merge and filter what
 * timeline-parse.ts parsed; timeline-text.ts and timeline-html.ts render.
 *
 * The timeline does not verify the chains or signatures: run
 * `airlock audit verify` for that.
 */
import {
  TIMELINE_LANES,
  type TimelineEntry,
  type TimelineFilter,
  type TimelineSkippedLine,
} from './timeline-entry.js';
import { parseTimelineSource } from './timeline-parse.js';

/**
 * Merges entries into one list ordered by time; entries at the same instant
 * keep lane order (broker, mediator, executor, kubernetes), then input order.
 */
export function mergeTimeline(...lists: readonly (readonly TimelineEntry[])[]): TimelineEntry[] {
  const all = lists.flat().map((entry, index) => ({ entry, index, ms: Date.parse(entry.time) }));
  all.sort(
    (a, b) =>
      a.ms - b.ms ||
      TIMELINE_LANES.indexOf(a.entry.lane) - TIMELINE_LANES.indexOf(b.entry.lane) ||
      a.index - b.index,
  );
  return all.map((a) => a.entry);
}

/**
 * Keeps the entries matching every given filter. With `session`, broker
 * entries sharing a `request_id` with any entry of the session are kept too
 * (the broker knows requests, not sessions), so the request, its approval
 * and the certificate appear in the session's story.
 */
export function filterTimeline(entries: readonly TimelineEntry[], filter: TimelineFilter): TimelineEntry[] {
  const sinceMs = filter.since?.getTime();
  const untilMs = filter.until?.getTime();
  let requestIds: Set<string> | undefined;
  if (filter.session !== undefined) {
    requestIds = new Set();
    for (const e of entries)
      if (e.session_id === filter.session && e.request_id !== undefined) requestIds.add(e.request_id);
  }
  return entries.filter((e) => {
    if (filter.session !== undefined && e.session_id !== filter.session) {
      const widened = e.lane === 'broker' && e.request_id !== undefined && requestIds?.has(e.request_id);
      if (!widened) return false;
    }
    if (filter.trace !== undefined && e.trace_id !== filter.trace) return false;
    if (filter.request !== undefined && e.request_id !== filter.request) return false;
    if (filter.user !== undefined && e.user !== filter.user) return false;
    const ms = Date.parse(e.time);
    if (sinceMs !== undefined && ms < sinceMs) return false;
    if (untilMs !== undefined && ms > untilMs) return false;
    return true;
  });
}

/** Parses, merges and filters several inputs. */
export function buildTimeline(
  sources: readonly { readonly name: string; readonly content: string }[],
  filter: TimelineFilter = {},
): { entries: TimelineEntry[]; skipped: TimelineSkippedLine[] } {
  const parsed = sources.map((s) => parseTimelineSource(s.name, s.content));
  return {
    entries: filterTimeline(mergeTimeline(...parsed.map((p) => p.entries)), filter),
    skipped: parsed.flatMap((p) => p.skipped),
  };
}

/** A short description of a filter, e.g. `session ses_8Kq2, since 2026-11-27T09:00:00.000Z`. */
export function describeTimelineFilter(filter: TimelineFilter): string {
  const parts: string[] = [];
  if (filter.session !== undefined) parts.push(`session ${filter.session}`);
  if (filter.trace !== undefined) parts.push(`trace ${filter.trace}`);
  if (filter.request !== undefined) parts.push(`request ${filter.request}`);
  if (filter.user !== undefined) parts.push(`user ${filter.user}`);
  if (filter.since !== undefined) parts.push(`since ${filter.since.toISOString()}`);
  if (filter.until !== undefined) parts.push(`until ${filter.until.toISOString()}`);
  return parts.length === 0 ? 'all entries' : parts.join(', ');
}
