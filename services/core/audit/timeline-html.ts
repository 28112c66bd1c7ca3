/**
 * The timeline as one self-contained HTML page for a reviewer. Trail
 * content is untrusted: every string is HTML-escaped, embedded data is JSON
 * with `<` escaped, and the page's CSP forbids any network access.
 */
import { stripAnsi } from './asciicast.js';
import { describeTimelineFilter } from './timeline.js';
import { TIMELINE_LANES, type TimelineEntry, type TimelineFilter } from './timeline-entry.js';
import { CSS, PLAYER_JS } from './timeline-html-assets.js';

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

/** Escapes text for HTML element content and double-quoted attribute values. */
export function htmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** JSON safe inside a <script> element: no `<` (so no `</script>` or `<!--`), no U+2028/9. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
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

function entryCell(e: TimelineEntry, recordingIndex: Map<string, number>): string {
  const cls = e.decision ? ` ${e.decision}` : '';
  const badge = e.decision
    ? ` <span class="badge">${htmlEscape(e.code ? `${e.decision} ${e.code}` : e.decision)}</span>`
    : '';
  const ids = [
    e.session_id ? `session ${e.session_id}` : undefined,
    e.request_id ? `request ${e.request_id}` : undefined,
  ]
    .filter((p) => p !== undefined)
    .join(' · ');
  const recIdx = e.recording ? recordingIndex.get(e.recording.path) : undefined;
  const rec =
    e.recording === undefined
      ? ''
      : recIdx === undefined
        ? `<div class="meta">recording ${htmlEscape(e.recording.path)}</div>`
        : `<div class="meta"><a href="#recording-${recIdx}">recording ${htmlEscape(e.recording.path)}</a></div>`;
  return (
    `<div class="entry${cls}"><div><span class="ev">${htmlEscape(e.event)}</span>${badge}</div>` +
    `<div>${htmlEscape(e.actor)}</div>` +
    (e.target ? `<div class="meta">${htmlEscape(e.target)}</div>` : '') +
    (e.summary ? `<div>${htmlEscape(e.summary)}</div>` : '') +
    (ids ? `<div class="meta">${htmlEscape(ids)}</div>` : '') +
    rec +
    '</div>'
  );
}

/**
 * One self-contained HTML page (inline CSS and JS, no network): a column per
 * lane, a row per entry in time order, denials highlighted, and a minimal
 * player for each embedded recording. All text from the inputs is
 * HTML-escaped; embedded data is JSON inside <script type="application/json">
 * with `<` escaped.
 */
export function renderTimelineHtml(input: TimelineHtmlInput): string {
  const { entries, filter } = input;
  const recordings = input.recordings ?? [];
  const recordingIndex = new Map(recordings.map((r, i) => [r.ref, i]));
  // The orphan lane only when reconciling found some (audit timeline --orphans).
  const lanes = TIMELINE_LANES.filter(
    (lane) => lane !== 'orphan' || entries.some((e) => e.lane === 'orphan'),
  );
  const perLane = lanes.map((lane) => `${lane}: ${entries.filter((e) => e.lane === lane).length}`);
  const denies = entries.filter((e) => e.decision === 'deny').length;
  const rows = entries
    .map(
      (e) =>
        `<tr><td class="time">${htmlEscape(e.time)}</td>${lanes
          .map((lane) =>
            lane === e.lane ? `<td class="lane-${lane}">${entryCell(e, recordingIndex)}</td>` : '<td></td>',
          )
          .join('')}</tr>`,
    )
    .join('\n');
  const players = recordings
    .map((r, i) => {
      const title = `<h3>recording ${htmlEscape(r.ref)}</h3>`;
      if (r.problem !== undefined || r.foundAt === undefined)
        return `<div id="recording-${i}">${title}<p class="problem">${htmlEscape(r.problem ?? 'not found')}</p></div>`;
      return (
        `<div class="player" id="recording-${i}" data-frames="frames-${i}">${title}` +
        `<div class="bar"><button type="button" class="play">play</button> <span class="clock">0.0s</span> ` +
        `<span class="meta">${htmlEscape(r.foundAt)} · ${r.frames.length} output frames</span></div>` +
        `<pre class="screen"></pre>` +
        `<script type="application/json" id="frames-${i}">${scriptJson(r.frames)}</script></div>`
      );
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>airlock audit timeline: ${htmlEscape(describeTimelineFilter(filter))}</title>
<style>${CSS}</style></head><body>
<header><h1>airlock audit timeline</h1>
<p class="filter">filter: ${htmlEscape(describeTimelineFilter(filter))}</p>
<p class="counts"><span>${entries.length} entries</span><span>${denies} denied</span>${perLane
    .map((c) => `<span>${htmlEscape(c)}</span>`)
    .join('')}<span>${recordings.length} recordings</span></p>
${input.files && input.files.length > 0 ? `<p>files: ${htmlEscape(input.files.join(' '))}</p>` : ''}
<p>Not a verification: check the trails with <code>airlock audit verify</code>.</p></header>
<table><thead><tr><th class="time">time</th>${lanes.map((l) => (l === 'orphan' ? '<th class="lane lane-orphan">orphan</th>' : `<th class="lane">${l}</th>`)).join('')}</tr></thead>
<tbody>
${rows}
</tbody></table>
${recordings.length > 0 ? `<section class="recordings"><h2>Recordings</h2>\n${players}</section>` : ''}
<script>${PLAYER_JS}</script>
</body></html>
`;
}
