/**
 * Orphan detection: the Kubernetes API server's audit log held against the
 * airlock trails. Every pod exec, attach, port-forward or ephemeral-container
 * request in a governed namespace must belong to an action airlock
 * authorized, and every such action must reach the API server. An orphan on
 * the Kubernetes side is access that went around airlock (break-glass, a
 * stolen kubeconfig, an executor acting outside an intent); one on the
 * airlock side is an action the API server never recorded (a log cut or
 * filtered, or a trail that claims what did not happen).
 *
 * Matching: the executor impersonates with `Impersonate-Extra` values
 * (kube-impersonation.ts) that the API server records in
 * `impersonatedUser.extra`: `airlock.dev/session-id` and
 * `airlock.dev/trace-id`. An event matches an airlock action with the same
 * session id, namespace, pod and kind (and trace id when both carry one).
 * Pure: no I/O.
 */
import { IMPERSONATION_EXTRA } from '../policy/kube-impersonation.js';

/** The pod subresources reconciled: the ones that reach inside a pod. */
export const RECONCILED_SUBRESOURCES = ['exec', 'attach', 'portforward', 'ephemeralcontainers'] as const;
export type ReconciledSubresource = (typeof RECONCILED_SUBRESOURCES)[number];

/** The executor's records of an action the API server must see, by the subresources that may carry it. */
const ACTION_EVENTS: Readonly<Record<string, readonly ReconciledSubresource[]>> = {
  'exec.started': ['exec', 'attach'],
  'debug.added': ['ephemeralcontainers'],
  'portforward.opened': ['portforward'],
};

/**
 * An allowed intent authorizes requests the API server may then refuse, or
 * that fail before the action record (a debug container refused with 403 is
 * never `debug.added`): it matches Kubernetes events but is not expected to
 * be seen itself. By its `target.resource`.
 */
const INTENT_RESOURCES: Readonly<Record<string, readonly ReconciledSubresource[]>> = {
  'pods/exec': ['exec', 'attach'],
  'pods/ephemeralcontainers': ['ephemeralcontainers', 'attach', 'exec'],
  'pods/portforward': ['portforward'],
};

function kindsOf(record: Json): readonly ReconciledSubresource[] | undefined {
  const event = str(record.event) ?? '';
  if (Object.hasOwn(ACTION_EVENTS, event)) return ACTION_EVENTS[event];
  if (event !== 'intent.allowed' || !isObject(record.target)) return undefined;
  const resource = str(record.target.resource) ?? '';
  return Object.hasOwn(INTENT_RESOURCES, resource) ? INTENT_RESOURCES[resource] : undefined;
}

/** One Kubernetes request into a pod, deduplicated by auditID. */
export interface KubePodAccess {
  readonly auditId: string;
  readonly time: string;
  readonly verb: string;
  readonly namespace: string;
  readonly pod: string;
  readonly subresource: ReconciledSubresource;
  /** `user.username` (who authenticated), and the impersonated user if any. */
  readonly user: string;
  readonly impersonated: string | undefined;
  readonly sessionId: string | undefined;
  readonly traceId: string | undefined;
  readonly status: number | undefined;
  readonly source: { readonly file: string; readonly line: number };
}

/** One action airlock's executor took inside a pod. */
export interface AirlockPodAction {
  readonly event: string;
  /** The Kubernetes subresources this record may stand behind. */
  readonly kinds: readonly ReconciledSubresource[];
  /** An action record (the API server must have seen it), not only an allowed intent. */
  readonly expectSeen: boolean;
  readonly time: string;
  readonly namespace: string;
  readonly pod: string;
  readonly sessionId: string;
  readonly traceId: string | undefined;
  readonly user: string | undefined;
  readonly source: { readonly file: string; readonly line: number };
}

/** A Kubernetes audit log: its pod accesses and the time span all its events cover. */
export interface KubeAuditSlice {
  readonly accesses: readonly KubePodAccess[];
  /** Earliest and latest `stageTimestamp` of any event (ms), or undefined for a log without events. */
  readonly from: number | undefined;
  readonly to: number | undefined;
}

export interface ReconcileResult {
  readonly ok: boolean;
  readonly namespaces: readonly string[];
  /** Kubernetes requests into pods with no airlock action behind them. */
  readonly kubeOrphans: readonly KubePodAccess[];
  /** Airlock actions the API server's log does not show. */
  readonly airlockOrphans: readonly AirlockPodAction[];
  readonly matched: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function firstExtra(user: unknown, key: string): string | undefined {
  const extra = isObject(user) ? user.extra : undefined;
  const values = isObject(extra) ? extra[key] : undefined;
  return Array.isArray(values) ? str(values[0]) : undefined;
}

/** Each line of `content` that parses as JSON, with its 0-based index; the other lines are skipped. */
function* jsonLines(content: string): Generator<[number, unknown]> {
  for (const [index, text] of content.split('\n').entries()) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    yield [index, value];
  }
}

/**
 * The pod accesses in one Kubernetes audit log (JSON lines, audit.k8s.io/v1
 * Events). Only the ResponseStarted and ResponseComplete stages count (a
 * request denied before it started has only ResponseComplete; a stream still
 * open when the log was read only ResponseStarted); one entry per auditID,
 * from its last such stage.
 * Lines that are not such events are ignored.
 */
export function parseKubeAuditSlice(name: string, content: string): KubeAuditSlice {
  const byId = new Map<string, KubePodAccess>();
  let from: number | undefined;
  let to: number | undefined;
  for (const [index, e] of jsonLines(content)) {
    if (!isObject(e) || e.kind !== 'Event' || e.apiVersion !== 'audit.k8s.io/v1') continue;
    const at = Date.parse(str(e.stageTimestamp) ?? '');
    if (!Number.isNaN(at)) {
      from = Math.min(from ?? at, at);
      to = Math.max(to ?? at, at);
    }
    if (e.stage !== 'ResponseStarted' && e.stage !== 'ResponseComplete') continue;
    const ref = isObject(e.objectRef) ? e.objectRef : {};
    const subresource = str(ref.subresource);
    if (
      ref.resource !== 'pods' ||
      !(RECONCILED_SUBRESOURCES as readonly string[]).includes(subresource ?? '')
    )
      continue;
    const auditId = str(e.auditID);
    // The last of its stages wins, as in the timeline, so both name the same line.
    if (auditId === undefined) continue;
    const status = isObject(e.responseStatus) ? e.responseStatus.code : undefined;
    byId.set(auditId, {
      auditId,
      time: str(e.stageTimestamp) ?? str(e.requestReceivedTimestamp) ?? '',
      verb: str(e.verb) ?? '',
      namespace: str(ref.namespace) ?? '',
      pod: str(ref.name) ?? '',
      subresource: subresource as ReconciledSubresource,
      user: str(isObject(e.user) ? e.user.username : undefined) ?? '',
      impersonated: str(isObject(e.impersonatedUser) ? e.impersonatedUser.username : undefined),
      sessionId: firstExtra(e.impersonatedUser, IMPERSONATION_EXTRA.sessionId),
      traceId: firstExtra(e.impersonatedUser, IMPERSONATION_EXTRA.traceId),
      status: typeof status === 'number' ? status : undefined,
      source: { file: name, line: index + 1 },
    });
  }
  return { accesses: [...byId.values()], from, to };
}

/** The executor's pod actions and allowed pod intents in one trail (other tiers' records and other events are ignored). */
export function parseAirlockPodActions(name: string, content: string): AirlockPodAction[] {
  const out: AirlockPodAction[] = [];
  for (const [index, r] of jsonLines(content)) {
    if (!isObject(r) || r.type !== 'event' || r.tier !== 'executor') continue;
    const kinds = kindsOf(r);
    if (kinds === undefined) continue;
    const target = isObject(r.target) ? r.target : {};
    const sessionId = str(r.session_id);
    if (sessionId === undefined) continue;
    out.push({
      event: str(r.event)!,
      kinds,
      expectSeen: r.event !== 'intent.allowed',
      time: str(r.time) ?? '',
      namespace: str(target.namespace) ?? '',
      pod: str(target.pod) ?? '',
      sessionId,
      traceId: str(r.trace_id),
      user: str(isObject(r.actor) ? r.actor.user : undefined),
      source: { file: name, line: index + 1 },
    });
  }
  return out;
}

function matches(access: KubePodAccess, action: AirlockPodAction): boolean {
  return (
    access.sessionId === action.sessionId &&
    access.namespace === action.namespace &&
    access.pod === action.pod &&
    action.kinds.includes(access.subresource) &&
    (access.traceId === undefined || action.traceId === undefined || access.traceId === action.traceId)
  );
}

/**
 * Holds the Kubernetes pod accesses against the airlock actions. Governed
 * namespaces: `namespaces` when given, else every namespace an airlock action
 * names. Airlock actions are reported only within the time the Kubernetes log
 * covers (its first to last event of any kind), so a slice of the log does
 * not make every older action an orphan; a log without events covers nothing
 * and every action is reported.
 */
export function reconcile(
  slices: readonly KubeAuditSlice[],
  actions: readonly AirlockPodAction[],
  namespaces?: readonly string[],
): ReconcileResult {
  const governed = [...new Set(namespaces?.length ? namespaces : actions.map((a) => a.namespace))].sort();
  const inScope = slices.flatMap((s) => s.accesses).filter((a) => governed.includes(a.namespace));
  const kubeOrphans = inScope.filter((access) => !actions.some((action) => matches(access, action)));
  const covered = (action: AirlockPodAction) => {
    const t = Date.parse(action.time);
    if (Number.isNaN(t)) return true;
    const spans = slices.filter((s) => s.from !== undefined && s.to !== undefined);
    return spans.length === 0 || spans.some((s) => t >= s.from! && t <= s.to!);
  };
  const airlockOrphans = actions.filter(
    (action) =>
      governed.includes(action.namespace) &&
      covered(action) &&
      !inScope.some((access) => matches(access, action)),
  );
  return {
    ok: kubeOrphans.length === 0 && airlockOrphans.length === 0,
    namespaces: governed,
    kubeOrphans,
    airlockOrphans,
    matched: inScope.length - kubeOrphans.length,
  };
}
