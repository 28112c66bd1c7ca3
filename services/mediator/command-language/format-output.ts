/**
 * Text output of `pods`, `events` and `whoami`. Pure: objects parsed from the
 * executor's JSON plus the current time in. Every string that came from the
 * cluster or the certificate goes through sanitizeForTerminal.
 *
 * The shapes below are the Kubernetes JSON wire form (RFC 3339 strings for
 * times), not @kubernetes/client-node's classes; every field is optional and
 * missing or mistyped fields render as kubectl renders absent ones, so a
 * surprising object never makes the command fail.
 */

import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import { type SessionSummary, sessionSummary } from '../../core/rpc/messages.js';
import type { Session } from '../../core/session/session.js';

/** Unix milliseconds, as `Date.now()` returns. */
export type EpochMillis = number;

interface ContainerStateJson {
  waiting?: { reason?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode?: number; signal?: number; finishedAt?: string };
}

interface ContainerStatusJson {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  started?: boolean;
  state?: ContainerStateJson;
  lastState?: ContainerStateJson;
}

/** The fields of a core/v1 Pod that the table reads. */
export interface PodJson {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { containers?: unknown[]; initContainers?: { restartPolicy?: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    conditions?: { type?: string; status?: string }[];
    containerStatuses?: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
  };
}

export interface PodListJson {
  items?: PodJson[];
}

/** The fields of a core/v1 Event that the table reads. */
export interface EventJson {
  metadata?: { creationTimestamp?: string };
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: string | null;
  eventTime?: string | null;
  firstTimestamp?: string | null;
  series?: { lastObservedTime?: string } | null;
}

export interface EventListJson {
  items?: EventJson[];
}

/**
 * What `whoami` shows, in the field names of the executor's OpenSession
 * answer (what `whoami -o json` has always printed), and from the
 * certificate's scope the runbook (if any) and the container patterns
 * (absent: every container).
 */
export interface WhoamiJson extends SessionSummary {
  session_id?: string;
  request_id?: string;
  runbook?: { name: string; steps_digest: string };
  container_patterns?: string[];
}

/**
 * `whoami -o json`: the session in the wire's field names (what `whoami`
 * printed since v1), plus the runbook and containers of its scope.
 */
export function whoamiOf(session: Session): WhoamiJson {
  const { scope } = session;
  return {
    session_id: session.id,
    ...sessionSummary(session, session.expiresAtMs),
    request_id: session.requestId,
    ...(scope.runbook
      ? { runbook: { name: scope.runbook.name, steps_digest: scope.runbook.stepsDigest } }
      : {}),
    ...(scope.containerPatterns ? { container_patterns: [...scope.containerPatterns] } : {}),
  };
}

const array = <T>(value: T[] | undefined): T[] => (Array.isArray(value) ? value : []);
const text = (value: unknown, fallback = '<none>'): string =>
  typeof value === 'string' && value !== '' ? sanitizeForTerminal(value) : fallback;
const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A duration as kubectl prints ages: k8s.io/apimachinery/pkg/util/duration
 * HumanDuration (`45s`, `3m20s`, `15m`, `2h5m`, `20h`, `4d3h`, `30d`, `2y10d`).
 */
export function formatAge(durationMs: number): string {
  const seconds = Math.trunc(durationMs / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const d = Math.trunc(hours / 24) % 365;
    return d === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${d}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const ageSince = (time: number | undefined, now: EpochMillis): string =>
  time === undefined ? '<unknown>' : formatAge(now - time);

/**
 * Columns padded as kubectl's tabwriter does (minimum cell width 6, padding
 * 3); the last column is not padded. Widths count UTF-16 units, which is
 * exact for the ASCII that Kubernetes names are made of.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, col) =>
    Math.max(6, h.length + 3, ...rows.map((r) => (r[col] ?? '').length + 3)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** STATUS as kubectl's printPod computes it (pkg/printers/internalversion/printers.go). */
function podStatus(pod: PodJson): { status: string; ready: string; restarts: number; lastRestart?: number } {
  const status = pod.status ?? {};
  let reason = text(status.reason, '') || text(status.phase, '') || 'Unknown';
  let restarts = 0;
  let readyContainers = 0;
  let lastRestart: number | undefined;
  const noteRestart = (c: ContainerStatusJson) => {
    restarts += count(c.restartCount);
    const finished = parseTime(c.lastState?.terminated?.finishedAt);
    if (finished !== undefined && (lastRestart === undefined || finished > lastRestart))
      lastRestart = finished;
  };

  const initSpecs = array(pod.spec?.initContainers);
  const initStatuses = array(status.initContainerStatuses);
  let initializing = false;
  for (const [i, c] of initStatuses.entries()) {
    noteRestart(c);
    const terminated = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (terminated && count(terminated.exitCode) === 0) continue;
    // Sidecars (restartPolicy: Always) keep running after start-up.
    if (initSpecs[i]?.restartPolicy === 'Always' && c.started === true) continue;
    initializing = true;
    if (terminated) {
      reason = terminated.reason
        ? `Init:${text(terminated.reason)}`
        : count(terminated.signal) !== 0
          ? `Init:Signal:${count(terminated.signal)}`
          : `Init:ExitCode:${count(terminated.exitCode)}`;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${text(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    break;
  }

  const initialized = array(status.conditions).some((c) => c.type === 'Initialized' && c.status === 'True');
  const statuses = array(status.containerStatuses);
  if (!initializing || initialized) {
    restarts = 0;
    let hasRunning = false;
    for (const c of [...statuses].reverse()) {
      noteRestart(c);
      const terminated = c.state?.terminated;
      if (c.state?.waiting?.reason) {
        reason = text(c.state.waiting.reason);
      } else if (terminated?.reason) {
        reason = text(terminated.reason);
      } else if (terminated) {
        reason =
          count(terminated.signal) !== 0
            ? `Signal:${count(terminated.signal)}`
            : `ExitCode:${count(terminated.exitCode)}`;
      } else if (c.ready === true && c.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = array(status.conditions).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata?.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';

  const total = array(pod.spec?.containers).length || statuses.length;
  const ready = `${readyContainers}/${total}`;
  return lastRestart === undefined
    ? { status: reason, ready, restarts }
    : { status: reason, ready, restarts, lastRestart };
}

/** `pods`: NAME READY STATUS RESTARTS AGE, in the order given. */
export function formatPodTable(list: PodListJson, now: EpochMillis): string {
  const items = array(list.items);
  if (items.length === 0) return 'No pods found.\n';
  const rows = items.map((pod) => {
    const { status, ready, restarts, lastRestart } = podStatus(pod);
    return [
      text(pod.metadata?.name, '<unknown>'),
      ready,
      status,
      lastRestart === undefined ? String(restarts) : `${restarts} (${formatAge(now - lastRestart)} ago)`,
      ageSince(parseTime(pod.metadata?.creationTimestamp), now),
    ];
  });
  return formatTable(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], rows);
}

function lastSeen(event: EventJson): number | undefined {
  return (
    parseTime(event.series?.lastObservedTime) ??
    parseTime(event.lastTimestamp) ??
    parseTime(event.eventTime) ??
    parseTime(event.firstTimestamp) ??
    parseTime(event.metadata?.creationTimestamp)
  );
}

/** `events`: LAST SEEN TYPE REASON OBJECT MESSAGE, oldest first (as `kubectl events`). */
export function formatEventTable(list: EventListJson, now: EpochMillis): string {
  const items = array(list.items);
  if (items.length === 0) return 'No events found.\n';
  const sorted = items
    .map((event, index) => ({ event, index, seen: lastSeen(event) }))
    // Stable: events without a time keep their place at the front.
    .sort(
      (a, b) =>
        (a.seen ?? Number.NEGATIVE_INFINITY) - (b.seen ?? Number.NEGATIVE_INFINITY) || a.index - b.index,
    );
  const rows = sorted.map(({ event, seen }) => {
    const kind =
      typeof event.involvedObject?.kind === 'string' ? event.involvedObject.kind.toLowerCase() : '';
    return [
      ageSince(seen, now),
      text(event.type),
      text(event.reason),
      `${text(kind, '')}/${text(event.involvedObject?.name, '')}`,
      text(event.message, ''),
    ];
  });
  return formatTable(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], rows);
}

/** Time left until `expiresAt`: `45s`, `12m30s`, `1h4m`, `2d3h`, or `expired`. */
export function formatTimeLeft(expiresAt: EpochMillis, now: EpochMillis): string {
  const seconds = Math.floor((expiresAt - now) / 1000);
  if (!(seconds > 0)) return 'expired';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

/** `whoami`: one `label: value` line per field. */
export function formatWhoami(session: WhoamiJson, now: EpochMillis): string {
  const list = (values: unknown) =>
    Array.isArray(values) && values.length > 0 ? values.map((v) => text(v, '""')).join(', ') : '<none>';
  const expires = count(session.expires_at_ms);
  const timeLeft = (at: number) => {
    const left = formatTimeLeft(at, now);
    return left === 'expired' ? left : `${left} left`;
  };
  const rows: [string, string][] = [
    ['user', text(session.user)],
    ['groups', list(session.groups)],
    ['profile', text(session.profile)],
    ['cluster', text(session.cluster)],
    ['namespace', text(session.namespace)],
    ['pods', list(session.pod_patterns)],
  ];
  // Only when limited: a session without container patterns may use every container.
  if (session.container_patterns) rows.push(['containers', list(session.container_patterns)]);
  if (session.runbook) {
    rows.push([
      'runbook',
      `${text(session.runbook.name)} (only its steps; ${text(session.runbook.steps_digest).slice(0, 19)}…)`,
    ]);
  }
  if (session.session_id) rows.push(['session', text(session.session_id)]);
  if (session.request_id) rows.push(['request', text(session.request_id)]);
  rows.push([
    'expires',
    expires > 0 ? `${new Date(expires).toISOString()} (${timeLeft(expires)})` : '<unknown>',
  ]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 3;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}\n`).join('');
}
