/**
 * The timeline as one self-contained HTML page for a reviewer: a summary
 * per request (who, what, when, how long, decisions, anomalies), a time
 * axis with a track per tier, then one compact row per entry that expands
 * (`<details>`) into a key/value table, and a player per recording.
 *
 * Trail content is untrusted: every string is HTML-escaped, embedded data
 * is JSON with `<` escaped, and the page's CSP forbids any network access.
 * Counting follows timeline-summary.ts (forced closes are not denials;
 * access after revocation is judged by when it began).
 */
import { stripAnsi } from './asciicast.js';
import { describeTimelineFilter } from './timeline.js';
import { TIMELINE_LANES, type TimelineEntry, type TimelineFilter } from './timeline-entry.js';
import { CSS, PLAYER_JS } from './timeline-html-assets.js';
import { renderTimelineAxis } from './timeline-html-axis.js';
import { htmlEscape, scriptJson } from './timeline-html-escape.js';
import {
  accessAfterRevocation,
  entryOutcome,
  formatDuration,
  summariseTimeline,
  type TimelineOutcome,
} from './timeline-summary.js';

/** A recording the HTML page can embed, already read and checked by the caller. */
export interface TimelineRecording {
  /** The path the trail referenced. */
  readonly ref: string;
  /** Where it was found, or undefined when it was not. */
  readonly foundAt: string | undefined;
  /** Output frames `[seconds, text]`, ANSI already stripped; empty when not found. */
  readonly frames: readonly (readonly [number, string])[];
  /** Why it is not embedded (not found, sha256 mismatch, malformed). */
  readonly problem: string | undefined;
}

/** Output frames of a recording with ANSI escapes stripped, for embedding. */
export function playableFrames(frames: readonly (readonly [number, string, string])[]): [number, string][] {
  return frames.filter((f) => f[1] === 'o').map((f) => [f[0], stripAnsi(f[2])]);
}

/** Input of `renderTimelineHtml`. */
export interface TimelineHtmlInput {
  readonly entries: readonly TimelineEntry[];
  readonly filter: TimelineFilter;
  /** Recordings referenced by entries, in the order to show them. */
  readonly recordings?: readonly TimelineRecording[];
  /** The input files, listed in the header. */
  readonly files?: readonly string[];
}

const OUTCOME_LABEL: Record<NonNullable<TimelineOutcome>, string> = {
  allow: 'allow',
  deny: 'deny',
  closed: 'closed',
};

/** `09:14:15.049` (UTC) for a row; the full time stays in the details and the title. */
function clockTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? time : new Date(ms).toISOString().slice(11, 23);
}

/** Key/value rows, escaped; `afterTarget` (already HTML) goes right below the target row. */
function kvTable(rows: readonly (readonly [string, string])[], afterTarget = '', last = ''): string {
  const body = rows
    .map(
      ([k, v]) =>
        `<tr><th>${htmlEscape(k)}</th><td>${htmlEscape(v)}</td></tr>${k === 'target' ? afterTarget : ''}`,
    )
    .join('');
  return `<table class="kv">${body}${rows.some(([k]) => k === 'target') ? '' : afterTarget}${last}</table>`;
}

function entryPairs(e: TimelineEntry): [string, string][] {
  const pairs: [string, string | undefined][] = [
    ['time', e.time],
    ['lane', e.lane],
    ['event', e.event],
    ['decision', e.decision === undefined ? undefined : e.code ? `${e.decision} ${e.code}` : e.decision],
    ['actor', e.actor],
    ['target', e.target || undefined],
    ['session', e.session_id],
    ['request', e.request_id],
    ['trace', e.trace_id],
  ];
  const own = pairs.filter((p): p is [string, string] => p[1] !== undefined);
  const details = e.details ?? (e.summary ? [['summary', e.summary] as const] : []);
  return [
    ...own,
    ...details.map(([k, v]) => [k, v] as [string, string]),
    ['source', `${e.source.file}:${e.source.line}`],
  ];
}

function entryRow(e: TimelineEntry, late: boolean, recordingIndex: Map<string, number>): string {
  const outcome = entryOutcome(e);
  const cls = ['row', `lane-${e.lane}`, outcome ? `outcome-${outcome}` : '', late ? 'late' : '']
    .filter((c) => c !== '')
    .join(' ');
  const badge = outcome
    ? `<span class="badge">${htmlEscape(e.code ? `${OUTCOME_LABEL[outcome]} ${e.code}` : OUTCOME_LABEL[outcome])}</span>`
    : '<span class="badge none"></span>';
  const flags = [
    late ? '<span class="flag">after revocation</span>' : '',
    e.lane === 'orphan' ? '<span class="flag">orphan</span>' : '',
  ].join('');
  const command = e.command
    ? `<tr><th>command</th><td><code class="command">${htmlEscape(e.command.join(' '))}</code></td></tr>`
    : '';
  const recIdx = e.recording ? recordingIndex.get(e.recording.path) : undefined;
  const recording =
    e.recording === undefined
      ? ''
      : `<tr><th>recording</th><td>${recIdx === undefined ? htmlEscape(e.recording.path) : `<a href="#recording-${recIdx}">${htmlEscape(e.recording.path)}</a>`}</td></tr>`;
  return (
    `<details class="${cls}"><summary><span class="t" title="${htmlEscape(e.time)}">${htmlEscape(clockTime(e.time))}</span>` +
    `<span class="lane">${htmlEscape(e.lane)}</span><span class="ev">${htmlEscape(e.event)}</span>${badge}` +
    `<span class="actor">${htmlEscape(e.actor)}</span><span class="target">${htmlEscape(e.target || e.summary)}${flags}</span></summary>` +
    `${kvTable(entryPairs(e), command, recording)}</details>`
  );
}

function summarySection(entries: readonly TimelineEntry[]): string {
  const groups = summariseTimeline(entries);
  if (groups.length === 0) return '';
  const rows = groups
    .map((g) => {
      const anomalies =
        g.anomalies.length === 0
          ? '<td class="ok">none</td>'
          : `<td class="anomaly">${htmlEscape(g.anomalies.join(', '))}</td>`;
      return (
        `<tr><td class="id">${htmlEscape(g.label)}</td><td>${htmlEscape(g.users.join(', ') || '-')}</td>` +
        `<td>${g.what.map((w) => `<div>${htmlEscape(w)}</div>`).join('') || '-'}</td>` +
        `<td class="nowrap">${htmlEscape(g.first.replace('T', ' ').slice(0, 23))}</td>` +
        `<td class="nowrap">${htmlEscape(formatDuration(g.durationMs))}</td>` +
        `<td class="nowrap">${htmlEscape(g.sessions.join(' ') || '-')}</td>` +
        `<td class="num allowed">${g.allowed}</td><td class="num denied">${g.denied}</td><td class="num closed">${g.closed}</td>` +
        `<td class="nowrap">${g.revokedAt ? htmlEscape(clockTime(g.revokedAt)) : '-'}</td>${anomalies}</tr>`
      );
    })
    .join('\n');
  return (
    '<section class="summary"><h2>Summary per request</h2><table class="summary"><thead><tr>' +
    '<th>request</th><th>who</th><th>what</th><th>when (UTC)</th><th>how long</th><th>sessions</th>' +
    '<th>allowed</th><th>denied</th><th title="ended by revocation or expiry">closed</th><th>revoked</th><th>anomalies</th>' +
    `</tr></thead><tbody>\n${rows}\n</tbody></table></section>`
  );
}

function playersSection(recordings: readonly TimelineRecording[]): string {
  if (recordings.length === 0) return '';
  const players = recordings
    .map((r, i) => {
      const title = `<h3>recording ${htmlEscape(r.ref)}</h3>`;
      if (r.problem !== undefined || r.foundAt === undefined)
        return `<div id="recording-${i}">${title}<p class="problem">${htmlEscape(r.problem ?? 'not found')}</p></div>`;
      return (
        `<div class="player" id="recording-${i}" data-frames="frames-${i}">${title}` +
        `<div class="controls"><button type="button" class="play">play</button> <span class="clock">0.0s</span> ` +
        `<span class="meta">${htmlEscape(r.foundAt)} · ${r.frames.length} output frames</span></div>` +
        `<pre class="screen"></pre>` +
        `<script type="application/json" id="frames-${i}">${scriptJson(r.frames)}</script></div>`
      );
    })
    .join('\n');
  return `<section class="recordings"><h2>Recordings</h2>\n${players}</section>`;
}

function countsLine(entries: readonly TimelineEntry[], late: number, recordings: number): string {
  const lanes = TIMELINE_LANES.filter(
    (lane) => lane !== 'orphan' || entries.some((e) => e.lane === 'orphan'),
  );
  const outcomes = entries.map(entryOutcome);
  const counts = [
    `${entries.length} entries`,
    `${outcomes.filter((o) => o === 'allow').length} allowed`,
    `${outcomes.filter((o) => o === 'deny').length} denied`,
    `${outcomes.filter((o) => o === 'closed').length} closed by revocation or expiry`,
    `${late} after revocation`,
    ...lanes.map((lane) => `${lane}: ${entries.filter((e) => e.lane === lane).length}`),
    `${recordings} recordings`,
  ];
  return `<p class="counts">${counts.map((c) => `<span>${htmlEscape(c)}</span>`).join('')}</p>`;
}

/**
 * One self-contained HTML page (inline CSS and JS, no network). All text
 * from the inputs is HTML-escaped; embedded data is JSON inside
 * <script type="application/json"> with `<` escaped.
 */
export function renderTimelineHtml(input: TimelineHtmlInput): string {
  const { entries, filter } = input;
  const recordings = input.recordings ?? [];
  const recordingIndex = new Map(recordings.map((r, i) => [r.ref, i]));
  const late = accessAfterRevocation(entries);
  const rows = entries.map((e) => entryRow(e, late.has(e), recordingIndex)).join('\n');
  const what = htmlEscape(describeTimelineFilter(filter));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>airlock audit timeline: ${what}</title>
<style>${CSS}</style></head><body>
<header><h1>airlock audit timeline</h1>
<p class="filter">filter: ${what}</p>
${countsLine(entries, late.size, recordings.length)}
${input.files && input.files.length > 0 ? `<p>files: ${htmlEscape(input.files.join(' '))}</p>` : ''}
<p>Not a verification: check the trails with <code>airlock audit verify</code>. Times are UTC.</p></header>
${summarySection(entries)}
${renderTimelineAxis(entries)}
<section class="entries"><h2>Entries <small>click a row for its details</small></h2>
<div class="row-head"><span class="t">time</span><span class="lane">lane</span><span class="ev">event</span><span>outcome</span><span class="actor">actor</span><span class="target">target</span></div>
${rows}
</section>
${playersSection(recordings)}
<script>${PLAYER_JS}</script>
</body></html>
`;
}
