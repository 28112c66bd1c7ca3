/**
 * Parses one timeline input, line by line, into entries: airlock event
 * records, airlock checkpoints (skipped), and Kubernetes `audit.k8s.io/v1`
 * `Event`s. The executor impersonates `airlock:session` with
 * `Impersonate-Extra-airlock.dev-*` headers
 * (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation),
 * so the API server records the airlock user, session, trace and request in
 * `impersonatedUser.extra`; that is how its events join the story.
 */
import { impersonatedSession } from '../policy/kube-impersonation.js';
import type {
  TimelineEntry,
  TimelineLane,
  TimelineSkippedLine,
  TimelineSourceResult,
} from './timeline-entry.js';
import { AUDIT_TIERS } from './types.js';

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
  const pairs: [string, string][] = [];
  if (reason) pairs.push(['reason', reason]);
  for (const [key, value] of Object.entries(details))
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      pairs.push([key, String(value)]);
  if (str(actor.address)) pairs.push(['address', String(actor.address)]);
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
    details: pairs,
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
  const command = kubernetesCommand(str(event.requestURI));
  const container = kubernetesQuery(str(event.requestURI)).get('container');
  const full = [
    target,
    container ? `[${container}]` : undefined,
    command ? `-- ${command.map(word).join(' ')}` : undefined,
  ]
    .filter((p) => p)
    .join(' ');
  return { verb, target: full || (str(event.requestURI) ?? '') };
}

function kubernetesQuery(requestURI: string | undefined): URLSearchParams {
  const q = requestURI?.indexOf('?') ?? -1;
  return new URLSearchParams(q < 0 ? '' : requestURI?.slice(q + 1));
}

/**
 * The argv of an exec or attach: the API server's audit event keeps the
 * request's query, where kubectl and client-go put each word of the command
 * as a `command=` parameter (`/api/v1/namespaces/ns/pods/p/exec?command=ps&command=aux&container=app`).
 */
export function kubernetesCommand(requestURI: string | undefined): string[] | undefined {
  const command = kubernetesQuery(requestURI).getAll('command');
  return command.length > 0 ? command : undefined;
}

/** The rest of a Kubernetes audit event, for the details table. */
function kubernetesDetails(e: Json, status: Json | undefined): [string, string][] {
  const user = isObject(e.user) ? e.user : {};
  const pairs: [string, string | undefined][] = [
    ['status', str(status?.message)],
    ['stage', str(e.stage)],
    ['received', str(e.requestReceivedTimestamp)],
    ['completed', str(e.stageTimestamp)],
    ['requestURI', str(e.requestURI)],
    ['authenticated as', str(user.username)],
    ['user agent', str(e.userAgent)],
    ['source IPs', Array.isArray(e.sourceIPs) ? e.sourceIPs.map(String).join(' ') : undefined],
    ['auditID', str(e.auditID)],
  ];
  return pairs.filter((p): p is [string, string] => p[1] !== undefined);
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
  const time = str(e.stageTimestamp) ?? str(e.requestReceivedTimestamp) ?? '';
  const received = str(e.requestReceivedTimestamp);
  const command = kubernetesCommand(str(e.requestURI));
  return {
    time,
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
    ...(received !== undefined && received !== time && !Number.isNaN(Date.parse(received))
      ? { started: received }
      : {}),
    ...(command ? { command } : {}),
    details: kubernetesDetails(e, status),
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
