import type { AuditEventInput } from '../core/audit/types.js';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { traceIdOf } from '../core/observability/telemetry.js';
import { authorizeIntent, type Intent } from '../core/policy/index.js';
import { sessionAuditIds } from '../core/session/session.js';
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

/** How an intent reads in a moderator's status line: `exec api-0 -- ps aux`. */
function intentText(intent: Intent): string {
  const parts: string[] = [intent.action];
  if (intent.resource) parts.push(intent.resource);
  if (intent.pod) parts.push(intent.container ? `${intent.pod} -c ${intent.container}` : intent.pod);
  if (intent.port !== undefined) parts.push(`port ${intent.port}`);
  if (intent.image) parts.push(`--image ${intent.image}`);
  if (intent.argv) parts.push('--', ...intent.argv);
  return parts.join(' ');
}

/** `intent.denied` in the trail (durable), then the error the caller throws. */
async function denyIntent(
  ctx: CommandContext,
  target: AuditEventInput['target'],
  denial: { code: ErrorCode; reason: string; details: Record<string, unknown> },
): Promise<AirlockError> {
  if (ctx.audited) ctx.audited.failureRecorded = true;
  await ctx.audit.append(
    {
      event: 'intent.denied',
      ...auditBase(ctx),
      target,
      decision: 'deny',
      code: denial.code,
      reason: denial.reason,
      details: denial.details,
    },
    { durable: true },
  );
  return new AirlockError(denial.code, denial.reason);
}

/**
 * The moderation gate of a moderated session (live/live-session.ts): waits
 * for the moderators, and in approve-each-command mode for an answer.
 * Fails closed: a moderated scope without a live session is refused.
 */
async function moderate(
  ctx: CommandContext,
  intent: Intent,
  target: AuditEventInput['target'],
): Promise<{ approvedBy?: string }> {
  if (!ctx.session.scope.moderation) return {};
  if (!ctx.live) throw new AirlockError('MODERATION_UNAPPROVED', 'the session is moderated but not live');
  return ctx.live.admit({ action: intent.action, target, text: intentText(intent) });
}

/**
 * The one authorize-and-audit path every intent of a session goes through
 * (commands and `ssh -L` forwards alike): the same policy the executor
 * applies authoritatively, decided on the mediator's own verified scope, for
 * an early, clear answer; then, for a moderated session, the moderation
 * gate. The decision is recorded durably in the mediator's trail
 * (`intent.allowed` or `intent.denied`) before anything reaches the
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
  const shown = `${ctx.session.user}: ${intentText(intent)}`;
  if (!decision.allow) {
    ctx.live?.status(`${shown} -> denied ${decision.code}`);
    throw await denyIntent(ctx, target, { code: decision.code, reason: decision.reason, details });
  }
  let approval: { approvedBy?: string };
  try {
    approval = await moderate(ctx, intent, target);
  } catch (error) {
    const refused = error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error');
    ctx.live?.status(`${shown} -> denied ${refused.code}`);
    throw await denyIntent(ctx, target, { code: refused.code, reason: refused.message, details });
  }
  await ctx.audit.append(
    {
      event: 'intent.allowed',
      ...auditBase(ctx),
      target,
      decision: 'allow',
      details: { ...details, ...(approval.approvedBy ? { approved_by: approval.approvedBy } : {}) },
    },
    { durable: true },
  );
  ctx.live?.status(
    `${shown} -> allowed${approval.approvedBy ? ` (approved by ${approval.approvedBy})` : ''}`,
  );
  if (ctx.audited) {
    ctx.audited.allowed = { action: intent.action, target };
    if (ctx.live)
      ctx.audited.moderation = {
        moderators: ctx.live.moderators(),
        ...(approval.approvedBy ? { approvedBy: approval.approvedBy } : {}),
      };
  }
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
