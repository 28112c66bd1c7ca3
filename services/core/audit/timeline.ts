/**
 * One time-ordered story of a session across the three airlock trails and
 * the Kubernetes API server's own audit log. Pure: callers read the files
 * (`airlock audit timeline`), these functions parse, merge, filter and
 * render.
 *
 * Inputs are recognised per line: an airlock event record (`type: "event"`,
 * a known `tier`), an airlock checkpoint (skipped), or a Kubernetes
 * `audit.k8s.io/v1` `Event`. The executor impersonates `airlock:session`
 * with `Impersonate-Extra-airlock.dev-*` headers
 * (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation),
 * so the API server records the airlock user, session, trace and request in
 * `impersonatedUser.extra`; that is how its events join the story.
 *
 * The timeline does not verify the chains or signatures: run
 * `airlock audit verify` for that.
 */
import { impersonatedSession } from '../policy/kube-impersonation.js';
import { stripAnsi } from './asciicast.js';
import { AUDIT_TIERS } from './types.js';

/**
 * The columns of a timeline: the three tiers, the API server, and the
 * orphans `airlock audit reconcile` finds (timeline-orphans.ts).
 */
export const TIMELINE_LANES = ['broker', 'mediator', 'executor', 'kubernetes', 'orphan'] as const;
export type TimelineLane = (typeof TIMELINE_LANES)[number];

/** A recording referenced by an entry (`details.recording`, `details.recording_sha256`). */
export interface TimelineRecordingRef {
  readonly path: string;
  readonly sha256: string | undefined;
}

/** One entry of the merged timeline. */
export interface TimelineEntry {
  /** RFC 3339 time as written by the source. */
  readonly time: string;
  readonly lane: TimelineLane;
  /** The airlock event name, or the Kubernetes verb. */
  readonly event: string;
  /** Who acted, for display (`alice`, `alice (as airlock:session)`). */
  readonly actor: string;
  /** What was acted on, for display (`pods/exec payments/api-0 [app] -- ps aux`). */
  readonly target: string;
  readonly decision: 'allow' | 'deny' | undefined;
  /** Airlock error code, or the Kubernetes HTTP status as a string. */
  readonly code: string | undefined;
  readonly session_id: string | undefined;
  readonly request_id: string | undefined;
  readonly trace_id: string | undefined;
  /** Reason and notable details in one line. */
  readonly summary: string;
  /** The user the entry is about: `actor.user`, or the airlock user / username of a Kubernetes event. */
  readonly user: string | undefined;
  readonly recording: TimelineRecordingRef | undefined;
  /** Where the entry came from. */
  readonly source: { readonly file: string; readonly line: number };
}

/** A line that was neither an airlock record nor a Kubernetes audit event. */
export interface TimelineSkippedLine {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

/** What `parseTimelineSource` found in one input. */
export interface TimelineSourceResult {
  readonly entries: TimelineEntry[];
  /** Airlock records, checkpoints and Kubernetes events recognised (entries plus skipped checkpoints and duplicate stages). */
  readonly recognised: number;
  readonly skipped: TimelineSkippedLine[];
}

/** Filters; all given ones must hold. */
export interface TimelineFilter {
  readonly session?: string;
  readonly trace?: string;
  readonly request?: string;
  readonly user?: string;
  /** Inclusive bounds. */
  readonly since?: Date;
  readonly until?: Date;
}

/**
 * The trails with a lane. The jump door's trail (tier `door`) has none yet:
 * its lines are reported as skipped, not drawn in another tier's column.
 */
const TIERS: ReadonlySet<string> = new Set(AUDIT_TIERS.filter((tier) => tier !== 'door'));

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Quotes an argv word when a reader could misread it. */
function word(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w);
}

function airlockTarget(target: Json): string {
  const parts: string[] = [];
  const resource = str(target.resource);
  if (resource) parts.push(resource);
  const cluster = str(target.cluster);
  const namespace = str(target.namespace);
  const pod = str(target.pod);
  const where = [namespace, pod].filter((p) => p !== undefined).join('/');
  if (where || cluster) parts.push(cluster ? `${cluster}:${where}` : where);
  const container = str(target.container);
  if (container) parts.push(`[${container}]`);
  if (typeof target.port === 'number') parts.push(`port ${target.port}`);
  if (Array.isArray(target.argv)) parts.push(`-- ${target.argv.map((a) => word(String(a))).join(' ')}`);
  return parts.join(' ');
}

function airlockActor(actor: Json): string {
  const user = str(actor.user) ?? str(actor.kind) ?? '-';
  const kind = str(actor.kind);
  return kind && kind !== 'user' && str(actor.user) ? `${user} (${kind})` : user;
}

function scalarDetails(details: unknown): string[] {
  if (!isObject(details)) return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(details)) {
    if (key === 'recording_sha256') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      out.push(`${key}=${typeof value === 'string' ? word(value) : String(value)}`);
  }
  return out;
}

function fromAirlockRecord(r: Json, file: string, line: number): TimelineEntry {
  const actor = isObject(r.actor) ? r.actor : {};
  const target = isObject(r.target) ? r.target : {};
  const details = isObject(r.details) ? r.details : {};
  const decision = r.decision === 'allow' || r.decision === 'deny' ? r.decision : undefined;
  const code = str(r.code);
  const reason = str(r.reason);
  const summary = [code && reason ? `${code}: ${reason}` : (code ?? reason), ...scalarDetails(details)]
    .filter((p) => p !== undefined)
    .join('; ');
  const recordingPath = str(details.recording);
  return {
    time: String(r.time),
    lane: r.tier as TimelineLane,
    event: String(r.event),
    actor: airlockActor(actor),
    target: airlockTarget(target),
    decision,
    code,
    session_id: str(r.session_id),
    request_id: str(r.request_id),
    trace_id: str(r.trace_id),
    summary,
    user: str(actor.user),
    recording: recordingPath ? { path: recordingPath, sha256: str(details.recording_sha256) } : undefined,
    source: { file, line },
  };
}

function firstExtra(extra: unknown, key: string): string | undefined {
  if (!isObject(extra)) return undefined;
  const values = extra[key];
  return Array.isArray(values) ? str(values[0]) : undefined;
}

/** `create pods/exec payments/api-0` from an audit Event's verb and objectRef. */
export function kubernetesAction(event: Json): { verb: string; target: string } {
  const verb = str(event.verb) ?? '?';
  const ref = isObject(event.objectRef) ? event.objectRef : {};
  const resource = str(ref.resource);
  const sub = str(ref.subresource);
  const group = str(ref.apiGroup);
  const kind = resource ? `${resource}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}` : undefined;
  const name = [str(ref.namespace), str(ref.name)].filter((p) => p !== undefined).join('/');
  const target = [kind, name || undefined].filter((p) => p !== undefined).join(' ');
  return { verb, target: target || (str(event.requestURI) ?? '') };
}

const STAGE_ORDER: Record<string, number> = {
  RequestReceived: 0,
  ResponseStarted: 1,
  ResponseComplete: 2,
  Panic: 3,
};

function fromKubernetesEvent(e: Json, file: string, line: number): TimelineEntry {
  const impersonated = isObject(e.impersonatedUser) ? e.impersonatedUser : undefined;
  const user = isObject(e.user) ? e.user : {};
  const extra = impersonated?.extra;
  const ids = impersonatedSession((key) => firstExtra(extra, key));
  const airlockUser = ids.user;
  const username = str(user.username);
  const impersonatedName = str(impersonated?.username);
  const status = isObject(e.responseStatus) ? e.responseStatus : undefined;
  const httpCode = typeof status?.code === 'number' ? status.code : undefined;
  const { verb, target } = kubernetesAction(e);
  const actorName = airlockUser ?? impersonatedName ?? username ?? '-';
  const actor =
    airlockUser && impersonatedName
      ? `${airlockUser} (as ${impersonatedName})`
      : impersonatedName && username
        ? `${impersonatedName} (by ${username})`
        : actorName;
  const stage = str(e.stage);
  const summary = [
    httpCode === undefined ? undefined : `${verb} ${target} -> ${httpCode}`,
    str(status?.message),
    stage && stage !== 'ResponseComplete' ? `stage ${stage}` : undefined,
    ids.requestId === undefined && str(e.auditID) ? `audit ${str(e.auditID)}` : undefined,
  ]
    .filter((p) => p !== undefined)
    .join('; ');
  return {
    time: str(e.stageTimestamp) ?? str(e.requestReceivedTimestamp) ?? '',
    lane: 'kubernetes',
    event: verb,
    actor,
    target,
    decision: httpCode === undefined ? undefined : httpCode < 400 ? 'allow' : 'deny',
    code: httpCode === undefined ? undefined : String(httpCode),
    session_id: ids.sessionId,
    request_id: ids.requestId,
    trace_id: ids.traceId,
    summary: summary || (stage ? `stage ${stage}` : ''),
    user: airlockUser ?? username,
    recording: undefined,
    source: { file, line },
  };
}

function isKubernetesAuditEvent(value: Json): boolean {
  return value.kind === 'Event' && value.apiVersion === 'audit.k8s.io/v1';
}

function isAirlockEvent(value: Json): boolean {
  return (
    (value.type === 'event' || value.type === undefined) &&
    typeof value.tier === 'string' &&
    TIERS.has(value.tier) &&
    typeof value.event === 'string' &&
    typeof value.time === 'string'
  );
}

/**
 * Parses one input (an airlock trail, a Kubernetes audit log, or a mix).
 * Checkpoints are recognised and skipped. Of the several stage events the
 * API server writes for one request (same `auditID`), only the last stage
 * is kept, so a request is one entry.
 */
export function parseTimelineSource(name: string, content: string): TimelineSourceResult {
  const entries: TimelineEntry[] = [];
  const skipped: TimelineSkippedLine[] = [];
  const kubeByAuditId = new Map<string, { index: number; stage: number }>();
  let recognised = 0;
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = (lines[i] ?? '').trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      skipped.push({ file: name, line: i + 1, reason: 'not JSON' });
      continue;
    }
    if (!isObject(value)) {
      skipped.push({ file: name, line: i + 1, reason: 'not a JSON object' });
      continue;
    }
    if (value.type === 'checkpoint' && typeof value.tier === 'string' && TIERS.has(value.tier)) {
      recognised++;
      continue;
    }
    if (isKubernetesAuditEvent(value)) {
      recognised++;
      const entry = fromKubernetesEvent(value, name, i + 1);
      if (Number.isNaN(Date.parse(entry.time))) {
        skipped.push({
          file: name,
          line: i + 1,
          reason: 'Kubernetes audit event without a valid stageTimestamp',
        });
        continue;
      }
      const auditId = str(value.auditID);
      const stage = STAGE_ORDER[str(value.stage) ?? ''] ?? 2;
      const seen = auditId === undefined ? undefined : kubeByAuditId.get(auditId);
      if (seen !== undefined) {
        if (stage >= seen.stage) {
          entries[seen.index] = entry;
          seen.stage = stage;
        }
        continue;
      }
      if (auditId !== undefined) kubeByAuditId.set(auditId, { index: entries.length, stage });
      entries.push(entry);
      continue;
    }
    if (isAirlockEvent(value)) {
      recognised++;
      if (Number.isNaN(Date.parse(value.time as string))) {
        skipped.push({ file: name, line: i + 1, reason: 'airlock record without a valid time' });
        continue;
      }
      entries.push(fromAirlockRecord(value, name, i + 1));
      continue;
    }
    skipped.push({
      file: name,
      line: i + 1,
      reason: 'neither an airlock audit record nor a Kubernetes audit event',
    });
  }
  return { entries, recognised, skipped };
}

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

// C0, DEL, C1, line/paragraph separators, bidi controls.
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Escapes every character a terminal could interpret (`\x1b`, `\u202e`, …) so the text prints inertly. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
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
      source: e.source,
    })),
  )}\n`;
}

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

const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:12px 16px;background:#1d2330;color:#fff}
header h1{font-size:16px;margin:0 0 4px}
header p{margin:2px 0;color:#c9d1e0}
.counts span{display:inline-block;margin-right:12px}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border-bottom:1px solid #dde1e8;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{position:sticky;top:0;background:#e9ecf1}
th.time,td.time{width:13em;font-family:ui-monospace,monospace;font-size:12px;color:#555}
.entry{border-left:3px solid #7a8699;padding-left:6px}
.entry.allow{border-color:#2f9e44}
.entry.deny{border-color:#c92a2a;background:#fff0f0}
th.lane-orphan{color:#c92a2a}.lane-orphan .entry{border-color:#c92a2a;background:#ffe3e3;color:#8a1010}
.entry .ev{font-weight:600}
.entry .meta{font-family:ui-monospace,monospace;font-size:12px;color:#444}
.badge{font-size:11px;padding:0 4px;border-radius:3px;background:#dde1e8}
.deny .badge{background:#c92a2a;color:#fff}
section.recordings{padding:12px 16px}
.player{margin:12px 0;border:1px solid #c5ccd8;border-radius:4px;background:#fff}
.player .bar{padding:6px;background:#e9ecf1}
.player pre{margin:0;padding:8px;background:#111;color:#e6e6e6;min-height:6em;max-height:30em;overflow:auto;white-space:pre-wrap}
.problem{color:#c92a2a}
`;

// The player: frames are [seconds, text] with escapes already stripped; text
// is appended with textContent, never parsed as HTML. Idle gaps capped at 2s.
const PLAYER_JS = `
(function(){
  var players=document.querySelectorAll('.player');
  for(var i=0;i<players.length;i++)(function(el){
    var data=JSON.parse(document.getElementById(el.getAttribute('data-frames')).textContent);
    var pre=el.querySelector('pre'),btn=el.querySelector('button.play'),clock=el.querySelector('.clock');
    var next=0,timer=null,playing=false;
    function show(){clock.textContent=(next<data.length?data[next][0]:(data.length?data[data.length-1][0]:0)).toFixed(1)+'s'}
    function step(){
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      pre.textContent+=data[next][1];pre.scrollTop=pre.scrollHeight;
      next++;show();
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      var gap=Math.min(Math.max(data[next][0]-data[next-1][0],0),2);
      timer=setTimeout(step,gap*1000);
    }
    btn.addEventListener('click',function(){
      if(playing){clearTimeout(timer);playing=false;btn.textContent='play';return}
      if(next>=data.length){next=0;pre.textContent=''}
      playing=true;btn.textContent='pause';step();
    });
    show();
  })(players[i]);
})();
`;

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
