/**
 * The time axis of the timeline page: one track per tier, a bar per span
 * (a request in the broker, a session in the mediator and executor, a
 * request to the API server from received to completed), red ticks for
 * denials and a line across all tracks at each revocation. Positions are
 * percentages computed here from parsed times, so no input text reaches a
 * style attribute; labels are HTML-escaped.
 */

import type { TimelineEntry, TimelineLane } from './timeline-entry.js';
import { htmlEscape } from './timeline-html-escape.js';
import { entryOutcome, entryStartMs, formatDuration, isRevocation } from './timeline-summary.js';

const AXIS_LANES: readonly TimelineLane[] = ['broker', 'mediator', 'executor', 'kubernetes'];

interface Span {
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly outcome: 'closed' | 'deny' | undefined;
}

/** The span key of an entry in its lane, or undefined when it is drawn as its own bar. */
function spanKey(e: TimelineEntry): string | undefined {
  if (e.lane === 'broker') return e.request_id === undefined ? undefined : `request ${e.request_id}`;
  if (e.lane === 'kubernetes') return undefined;
  return e.session_id === undefined ? undefined : `session ${e.session_id}`;
}

function laneSpans(entries: readonly TimelineEntry[], lane: TimelineLane): Span[] {
  const spans = new Map<string, { label: string; from: number; to: number; closed: boolean }>();
  const single: Span[] = [];
  for (const e of entries) {
    if (e.lane !== lane) continue;
    const from = entryStartMs(e);
    const to = Date.parse(e.time);
    const key = spanKey(e);
    if (key === undefined) {
      const outcome = entryOutcome(e);
      single.push({
        label: `${e.event} ${e.target}${e.code ? ` -> ${e.code}` : ''}`,
        from,
        to,
        outcome: outcome === 'deny' || outcome === 'closed' ? outcome : undefined,
      });
      continue;
    }
    const span = spans.get(key) ?? { label: key, from, to, closed: false };
    span.from = Math.min(span.from, from);
    span.to = Math.max(span.to, to);
    span.closed ||= entryOutcome(e) === 'closed';
    spans.set(key, span);
  }
  return [
    ...[...spans.values()].map((s) => ({ ...s, outcome: s.closed ? ('closed' as const) : undefined })),
    ...single,
  ];
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** The axis as HTML, or '' without entries. */
export function renderTimelineAxis(entries: readonly TimelineEntry[]): string {
  if (entries.length === 0) return '';
  // reduce, not Math.min(...): a long trail would exceed the argument limit.
  const min = entries.reduce((m, e) => Math.min(m, entryStartMs(e)), Number.POSITIVE_INFINITY);
  const max = entries.reduce((m, e) => Math.max(m, Date.parse(e.time)), Number.NEGATIVE_INFINITY);
  const width = Math.max(max - min, 1);
  const pct = (ms: number) => (((ms - min) / width) * 100).toFixed(3);
  const revocations = entries
    .filter(isRevocation)
    .map(
      (e) =>
        `<div class="revocation" style="left:${pct(Date.parse(e.time))}%" title="${htmlEscape(`revoked at ${e.time}`)}"></div>`,
    )
    .join('');
  const tracks = AXIS_LANES.map((lane) => {
    const bars = laneSpans(entries, lane)
      .map((s) => {
        const cls = s.outcome === undefined ? 'bar' : `bar ${s.outcome}`;
        const title = `${s.label} · ${clock(s.from)}–${clock(s.to)} (${formatDuration(s.to - s.from)})`;
        return `<div class="${cls}" style="left:${pct(s.from)}%;width:${(((s.to - s.from) / width) * 100).toFixed(3)}%" title="${htmlEscape(title)}"></div>`;
      })
      .join('');
    const denies = entries
      .filter((e) => e.lane === lane && entryOutcome(e) === 'deny')
      .map(
        (e) =>
          `<div class="tick deny" style="left:${pct(Date.parse(e.time))}%" title="${htmlEscape(`${e.event} ${e.code ?? ''} at ${e.time}`)}"></div>`,
      )
      .join('');
    return `<div class="track" data-lane="${lane}"><span class="track-name">${lane}</span><div class="track-area">${bars}${denies}</div></div>`;
  }).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<span style="left:${(f * 100).toFixed(0)}%">${clock(min + f * width)}</span>`)
    .join('');
  return (
    `<section class="axis"><h2>Time axis <small>${htmlEscape(new Date(min).toISOString().slice(0, 10))} UTC · ` +
    `${formatDuration(max - min)}</small></h2>` +
    `<div class="tracks">${tracks}<div class="overlay">${revocations}</div></div>` +
    `<div class="scale">${ticks}</div></section>`
  );
}
