/**
 * The table `sessions` prints: one row per live session the caller may
 * join, with who watches it (moderators and observers, with their role).
 * Pure; every cell is made safe for the terminal here.
 */
import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import type { Watcher } from './live-session.js';

/** One live session as `sessions` lists it. */
export interface SessionRow {
  readonly id: string;
  readonly owner: string;
  readonly profile: string;
  readonly namespace: string;
  readonly mode: string;
  readonly watchers: readonly Watcher[];
}

const HEADER = ['SESSION', 'OWNER', 'PROFILE', 'NAMESPACE', 'MODE', 'WATCHERS'] as const;

/** `lea (moderator), obi (observer)` in join order; `-` when nobody watches. */
export function formatWatchers(watchers: readonly Watcher[]): string {
  return watchers.map((w) => `${w.user} (${w.role})`).join(', ') || '-';
}

/** The table, columns padded to their widest cell, lines ended with CR LF (a terminal channel). */
export function formatSessionsTable(sessions: readonly SessionRow[]): string {
  const rows = sessions.map((s) =>
    [s.id, s.owner, s.profile, s.namespace, s.mode, formatWatchers(s.watchers)].map(sanitizeForTerminal),
  );
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [HEADER, ...rows]
    .map(
      (row) =>
        `${row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\r\n`,
    )
    .join('');
}
