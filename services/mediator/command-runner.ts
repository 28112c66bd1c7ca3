import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Command } from '../core/command-language/parse-command.js';
import { POLICY_CODES } from '../core/errors.js';
import { contextFromTraceparent, defaultTracer, traceparentOf } from '../core/observability/telemetry.js';
import type { CallOptions } from '../core/rpc/executor-client.js';
import { asAirlockError, type CommandAudit, type CommandContext, type CommandIo } from './command-context.js';
import { EXIT_CODES, exitCodeFor, formatError } from './command-language/exit-codes.js';
import { FORWARD_EXPLANATION, helpText } from './command-language/help-text.js';
import { runDebug, runExec } from './exec-commands.js';
import { auditFailure } from './intent-audit.js';
import { runDescribe, runGet, runListing, runLogs, runWhoami } from './read-commands.js';

export type { CommandContext, CommandIo } from './command-context.js';

/**
 * Runs one parsed command and returns the SSH exit status: the remote
 * command's own status for exec/shell/debug, 0 for success, or the status
 * for the error code (printed as `airlock: CODE: reason` or JSON on stderr).
 */
export async function runCommand(
  command: Command,
  io: CommandIo,
  sessionCtx: CommandContext,
): Promise<number> {
  const span = (sessionCtx.tracer ?? defaultTracer('airlock.mediator')).startSpan(
    'airlock.command',
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'airlock.command': command.kind,
        'airlock.session_id': sessionCtx.session.id,
        'enduser.id': sessionCtx.session.user,
      },
    },
    sessionCtx.traceContext ?? contextFromTraceparent(sessionCtx.traceparent),
  );
  // Without an SDK the no-op span carries the session's ids: keep its traceparent.
  const audited: CommandAudit = { failureRecorded: false };
  const ctx: CommandContext = {
    ...sessionCtx,
    traceparent: traceparentOf(span) ?? sessionCtx.traceparent,
    audited,
  };
  try {
    const code = await runTraced(command, io, ctx);
    span.setAttributes({ 'airlock.decision': 'allow', 'airlock.exit_code': code });
    return code;
  } catch (error) {
    const airlock = asAirlockError(error);
    if (audited.allowed && !audited.failureRecorded) await auditFailure(ctx, audited.allowed, airlock);
    io.stderr.write(formatError(airlock, command.output));
    const code = exitCodeFor(airlock.code);
    span.setAttributes({
      // A refusal by the policy (here or at the executor) or by RBAC; anything else is a failure.
      'airlock.decision':
        (POLICY_CODES as readonly string[]).includes(airlock.code) || airlock.code === 'RBAC_DENIED'
          ? 'deny'
          : 'error',
      'airlock.code': airlock.code,
      'airlock.exit_code': code,
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: airlock.code });
    return code;
  } finally {
    span.end();
  }
}

/** The command itself; errors propagate to `runCommand`, which prints them and records them on the span. */
async function runTraced(command: Command, io: CommandIo, ctx: CommandContext): Promise<number> {
  // The moderation claim exists only once the intent passed the gate, just before the call.
  const options: CallOptions = { traceparent: ctx.traceparent, moderation: () => ctx.audited?.moderation };
  switch (command.kind) {
    case 'help':
      io.stdout.write(helpText(command.topic));
      return EXIT_CODES.OK;
    case 'forward':
      io.stdout.write(`${FORWARD_EXPLANATION}\n`);
      return EXIT_CODES.OK;
    case 'exit':
      return EXIT_CODES.OK;
    case 'whoami':
      return runWhoami(command, io, ctx);
    case 'pods':
    case 'events':
      return runListing(command, io, ctx, options);
    case 'get':
      return runGet(command, io, ctx, options);
    case 'describe':
      return runDescribe(command, io, ctx, options);
    case 'logs':
      return runLogs(command, io, ctx, options);
    case 'exec':
    case 'shell':
      return runExec(command, io, ctx, options);
    case 'debug':
      return runDebug(command, io, ctx, options);
  }
  return EXIT_CODES.OK;
}
