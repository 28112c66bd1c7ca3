import type { AuditEventInput } from '../core/audit/types.js';
import { AirlockError } from '../core/errors.js';
import { authorizeIntent, type Intent } from '../core/policy/index.js';
import { sessionAuditIds } from '../core/session/session.js';
import { traceIdOf } from '../core/telemetry.js';
import type { CommandAudit, CommandContext } from './command-context.js';

/** Who did it, and the ids that join the record to the session and its trace. */
function auditBase(
  ctx: CommandContext,
): Pick<AuditEventInput, 'actor' | 'session_id' | 'request_id' | 'trace_id'> {
  const traceId = traceIdOf(ctx.traceparent);
  return {
    actor: { user: ctx.session.user, groups: [...ctx.session.groups], address: ctx.clientAddress },
    ...sessionAuditIds(ctx.session),
    ...(traceId ? { trace_id: traceId } : {}),
  };
}

/**
 * The one authorize-and-audit path every intent of a session goes through
 * (commands and `ssh -L` forwards alike): the same policy the executor
 * applies authoritatively, decided on the mediator's own verified scope, for
 * an early, clear answer. The decision is recorded durably in the mediator's
 * trail (`intent.allowed` or `intent.denied`) before anything reaches the
 * executor; a denial throws and never reaches it.
 */
export async function authorizeAndAudit(
  ctx: CommandContext,
  intent: Intent,
  target: AuditEventInput['target'],
): Promise<void> {
  const decision = authorizeIntent(ctx.policy(), ctx.session.scope, {
    ...intent,
    cluster: ctx.session.scope.cluster,
  });
  const details = { action: intent.action, ...(decision.rule ? { rule: decision.rule } : {}) };
  if (decision.allow) {
    await ctx.audit.append(
      { event: 'intent.allowed', ...auditBase(ctx), target, decision: 'allow', details },
      { durable: true },
    );
    if (ctx.audited) ctx.audited.allowed = { action: intent.action, target };
    return;
  }
  if (ctx.audited) ctx.audited.failureRecorded = true;
  await ctx.audit.append(
    {
      event: 'intent.denied',
      ...auditBase(ctx),
      target,
      decision: 'deny',
      code: decision.code,
      reason: decision.reason,
      details,
    },
    { durable: true },
  );
  throw new AirlockError(decision.code, decision.reason);
}

/**
 * Records in the mediator's trail that an allowed intent failed further on
 * (the executor refused or failed it, or could not be reached), under the
 * event the executor uses for the same outcome: `exec.exited` for exec,
 * shell and debug, `logs.streamed` for logs, `intent.denied` for reads and
 * forwards. Best effort: the user still gets the error if the trail refuses it.
 */
export async function auditFailure(
  ctx: CommandContext,
  allowed: NonNullable<CommandAudit['allowed']>,
  error: AirlockError,
): Promise<void> {
  const event: AuditEventInput['event'] =
    allowed.target.resource === 'pods/log'
      ? 'logs.streamed'
      : allowed.target.resource === 'pods/exec' || allowed.target.resource === 'pods/ephemeralcontainers'
        ? 'exec.exited'
        : 'intent.denied';
  await ctx.audit
    .append(
      {
        event,
        ...auditBase(ctx),
        target: allowed.target,
        decision: 'deny',
        code: error.code,
        reason: error.message,
        details: { action: allowed.action },
      },
      { durable: true },
    )
    .catch(() => {});
}

/**
 * `exec.exited` for a recorded interactive stream: the recording's path and
 * SHA-256, the exit code or the failure.
 */
export async function auditRecordedExit(
  ctx: CommandContext,
  target: AuditEventInput['target'],
  outcome: { code?: number; failure?: AirlockError; recording?: { path: string; sha256: string } },
): Promise<void> {
  const { code, failure, recording } = outcome;
  await ctx.audit.append({
    event: 'exec.exited',
    ...auditBase(ctx),
    target,
    ...(failure ? { decision: 'deny' as const, code: failure.code, reason: failure.message } : {}),
    details: {
      ...(code === undefined ? {} : { exit_code: code }),
      ...(recording
        ? { recording: recording.path, recording_sha256: recording.sha256 }
        : { recording_failed: true }),
    },
  });
}
