/**
 * The one path every intent RPC goes through (Exec, Debug, Logs,
 * PortForward, Get, List, CloseSession): the call's session, the policy
 * decision with its durable audit record and metrics, the stream's
 * registration with its session, and on failure one audit record and one
 * gRPC status. The stage files (exec-stream.ts, logs.ts, port-forward.ts,
 * objects.ts) hold only what their RPC does between those.
 */
import type { Span } from '@opentelemetry/api';
import type { AuditEventInput, AuditEventName, AuditTarget } from '../core/audit/types.js';
import { AirlockError, isPolicyDenial } from '../core/errors.js';
import { endSpan } from '../core/observability/telemetry.js';
import { type AuthorizeResult, authorizeIntent, type Intent } from '../core/policy/index.js';
import { auditBase, auditTargetOf } from '../core/session/audit-records.js';
import { scopeOf } from '../core/session/session-scope.js';
import {
  type AnyCall,
  type CallContext,
  callContext,
  callerGone,
  rpcSpan,
  sendError,
} from './call-context.js';
import { certificateDenial } from './certificate-restrictions.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import { moderationDenial, moderationDetails } from './moderation-check.js';

/** One authenticated intent call, as a stage sees it. */
export class IntentCall {
  /** What this call's audit records name; stages add the container once it is known. */
  target: AuditTarget = {};
  /** True once the policy allowed the intent. */
  authorized = false;
  #tracked: { signal: AbortSignal; done: () => void } | undefined;

  constructor(
    readonly rt: ExecutorRuntime,
    readonly ctx: CallContext,
  ) {}

  /**
   * The policy decision on `intent` (for this executor's cluster), audited
   * durably either way (`intent.allowed` / `intent.denied`); throws the
   * denial. Sets `target` to what the intent acts on (`command`: the command
   * line the record shows, see auditTargetOf).
   */
  async authorize(intent: Intent, command?: readonly string[]): Promise<void> {
    const withCluster = { ...intent, cluster: this.rt.deps.cluster };
    this.target = auditTargetOf(withCluster, command);
    await authorize(this.rt, this.ctx, withCluster, this.target);
    this.authorized = true;
  }

  /** Registers the stream with its session: the signal aborts when the session ends or the caller cancels. */
  track(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
    this.#tracked = this.rt.sessions.track(this.ctx.session.id, callerGone(call));
    return this.#tracked.signal;
  }

  /** Appends a record about this call (actor, session, trace and `target` filled in). */
  async audit(event: AuditEventName, fields: Partial<Pick<AuditEventInput, 'target' | 'details'>> = {}) {
    await this.rt.deps.audit.append({
      ...auditBase(this.ctx.session, this.ctx),
      event,
      target: fields.target ?? this.target,
      ...(fields.details ? { details: fields.details } : {}),
    });
  }

  /** @internal Unregisters the stream (the intent-call runner, once). */
  done(): void {
    this.#tracked?.done();
  }
}

/** Policy check of one intent, audited durably either way; throws the denial. */
async function authorize(rt: ExecutorRuntime, ctx: CallContext, intent: Intent, target: AuditTarget) {
  const session = ctx.session;
  const started = performance.now();
  const restricted = certificateDenial(session.identity, intent, session.scope.namespace);
  // The scope of the certificate this executor verified itself, never the mediator's word.
  const scope = scopeOf(session.scope);
  const authorized: AuthorizeResult = restricted
    ? { allow: false, ...restricted }
    : authorizeIntent(rt.deps.policy(), scope, intent);
  const unmoderated = authorized.allow ? moderationDenial(scope, session.user, ctx.moderation) : undefined;
  const decision: AuthorizeResult = unmoderated ? { allow: false, ...unmoderated } : authorized;
  const label = decision.allow ? 'allow' : 'deny';
  rt.metrics.intentsTotal.inc({
    action: intent.action,
    decision: label,
    code: decision.allow ? '' : decision.code,
  });
  await rt.deps.audit.append(
    {
      ...auditBase(session, ctx),
      event: decision.allow ? 'intent.allowed' : 'intent.denied',
      target,
      decision: label,
      ...(decision.allow
        ? { details: { action: intent.action, rule: decision.rule, ...moderationDetails(scope, ctx) } }
        : {
            code: decision.code,
            reason: decision.reason,
            details: { action: intent.action, ...(decision.rule ? { rule: decision.rule } : {}) },
          }),
    },
    { durable: true },
  );
  rt.metrics.authorizeSeconds.observe((performance.now() - started) / 1000, {
    action: intent.action,
    decision: label,
  });
  if (!decision.allow) throw new AirlockError(decision.code, decision.reason);
  ctx.span.addEvent('intent.authorized');
}

/** Audits a failure (RBAC denial, Kubernetes error, expiry, bad request); never throws. */
export async function auditFailure(
  rt: ExecutorRuntime,
  ctx: CallContext | undefined,
  event: AuditEventName,
  target: AuditTarget,
  error: unknown,
): Promise<void> {
  const airlock =
    error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error', { cause: error });
  if (airlock.code === 'INTERNAL') rt.log.error({ err: error }, 'intent failed');
  try {
    await rt.deps.audit.append({
      ...(ctx ? auditBase(ctx.session, ctx) : { actor: {} }),
      event,
      target,
      decision: 'deny',
      code: airlock.code,
      reason: airlock.message,
    });
  } catch (auditError) {
    rt.log.error({ err: auditError }, 'could not audit a failure');
  }
}

/** How an intent call audits a failure the policy decision did not already record. */
export interface FailureAudit {
  /** The event a failed call is recorded as (e.g. `exec.exited`, `intent.denied`). */
  readonly event: AuditEventName;
  /**
   * Streams: every failure is recorded, an unauthenticated call as
   * `auth.denied`. One-shot reads (false): only a failure of the allowed
   * read is; a refused session or a malformed request is the caller's error.
   */
  readonly everyFailure: boolean;
}

/**
 * Runs one intent call on `span`: authenticates it, runs `body`, and on
 * failure writes the failure record (never twice for a policy denial:
 * `authorize` recorded it) and rethrows. The stream registration ends here.
 */
export async function intentCall<T>(
  rt: ExecutorRuntime,
  call: AnyCall,
  span: Span,
  failures: FailureAudit,
  body: (intent: IntentCall) => Promise<T>,
): Promise<T> {
  let intent: IntentCall | undefined;
  try {
    intent = new IntentCall(rt, callContext(rt, call, span));
    return await body(intent);
  } catch (error) {
    if (intent && !isPolicyDenial(error) && (failures.everyFailure || intent.authorized))
      await auditFailure(rt, intent.ctx, failures.event, intent.target, error);
    if (!intent && failures.everyFailure) await auditFailure(rt, undefined, 'auth.denied', {}, error);
    throw error;
  } finally {
    intent?.done();
  }
}

/**
 * A streaming intent RPC: its span, {@link intentCall}, and a failure sent
 * as the stream's gRPC status. The body ends the call itself on success.
 */
export async function streamIntent(
  rt: ExecutorRuntime,
  call: AnyCall & { emit(event: 'error', value: unknown): boolean },
  method: string,
  failureEvent: AuditEventName,
  body: (intent: IntentCall) => Promise<void>,
): Promise<void> {
  const span = rpcSpan(rt, method, call);
  let failure: unknown;
  try {
    await intentCall(rt, call, span, { event: failureEvent, everyFailure: true }, body);
  } catch (error) {
    failure = error;
    rt.log.debug({ err: error }, `${method} failed`);
    sendError(call, error);
  } finally {
    endSpan(span, failure);
  }
}
