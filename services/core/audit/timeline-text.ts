/**
 * The timeline as an aligned terminal table or as JSON. Every cell of the
 * table is made inert for the terminal: trail content is untrusted (a
 * user's argv can carry escape sequences).
 */
import { visibleEscape } from '../command-language/sanitize.js';
import type { TimelineEntry } from './timeline-entry.js';

// C0, DEL, C1, line/paragraph separators, bidi controls.
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Escapes every character a terminal could interpret (`\x1b`, `\u202e`, …) so the text prints inertly. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, visibleEscape);
}

const TEXT_COLUMNS = ['TIME', 'LANE', 'EVENT', 'DECISION', 'ACTOR', 'TARGET', 'SESSION', 'SUMMARY'] as const;

/**
 * An aligned table, one entry per line, every cell passed through
 * `terminalSafe` (so a user's escape sequences in an argv cannot drive the
 * reader's terminal). Ends with a newline; an empty timeline is the header only.
 */
export function renderTimelineText(entries: readonly TimelineEntry[]): string {
  const rows: string[][] = [
    [...TEXT_COLUMNS],
    ...entries.map((e) => [
      e.time,
      e.lane,
      e.event,
      e.decision === undefined ? '-' : e.code ? `${e.decision} ${e.code}` : e.decision,
      e.actor,
      e.target || '-',
      e.session_id ?? '-',
      e.summary || '-',
    ]),
  ].map((row) => row.map(terminalSafe));
  const widths = TEXT_COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** The entries as a JSON array (one line, newline-terminated); absent fields are `null`. */
export function renderTimelineJson(entries: readonly TimelineEntry[]): string {
  return `${JSON.stringify(
    entries.map((e) => ({
      time: e.time,
      lane: e.lane,
      event: e.event,
      actor: e.actor,
      target: e.target,
      decision: e.decision ?? null,
      code: e.code ?? null,
      session_id: e.session_id ?? null,
      request_id: e.request_id ?? null,
      trace_id: e.trace_id ?? null,
      summary: e.summary,
      user: e.user ?? null,
      recording: e.recording ? { path: e.recording.path, sha256: e.recording.sha256 ?? null } : null,
      started: e.started ?? null,
      command: e.command ?? null,
      source: e.source,
    })),
  )}\n`;
}
