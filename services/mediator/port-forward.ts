import type { ServerChannel } from 'ssh2';
import type { AuditEventInput } from '../core/audit/types.js';
import { AirlockError } from '../core/errors.js';
import { traceIdOf } from '../core/observability/telemetry.js';
import type { ModerationClaim } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import { sessionAuditIds } from '../core/session/session.js';
import { forwardChunk } from '../core/streams/backpressure.js';
import { ChunkCoalescer } from '../core/streams/coalescer.js';
import { OPEN_FAILURE, type RejectChannel } from './channel-open-failure.js';
import type { CommandAudit } from './command-context.js';
import { EXIT_CODES, exitCodeFor, formatError } from './command-language/index.js';
import { commandContext } from './executor-session.js';
import type { ConnectionState, FrontendContext, OpenedSession } from './frontend-context.js';
import { auditFailure, authorizeAndAudit } from './intent-audit.js';

/**
 * The channel-open failure for a refused forward: "administratively
 * prohibited" for a denial (scope, policy, RBAC), "connect failed" for the
 * rest, and as description the same terminal-safe `airlock: CODE: message`
 * a command prints, on one line.
 */
export function forwardRefusal(error: AirlockError): { reasonCode: number; description: string } {
  const denied = exitCodeFor(error.code) === EXIT_CODES.DENIED;
  return {
    reasonCode: denied ? OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED : OPEN_FAILURE.CONNECT_FAILED,
    description: formatError(error, 'text').trimEnd().replaceAll('\n', ' '),
  };
}

/**
 * `api-0`, `api-0.payments` or `payments/api-0` as the destination of an
 * `ssh -L` forward: the pod and, optionally, its namespace.
 */
export function parseForwardDestination(
  host: string,
  defaultNamespace: string,
): { namespace: string; pod: string } {
  const slash = host.split('/');
  if (slash.length === 2) return { namespace: slash[0]!, pod: slash[1]! };
  const dot = host.indexOf('.');
  return dot === -1
    ? { namespace: defaultNamespace, pod: host }
    : { namespace: host.slice(dot + 1), pod: host.slice(0, dot) };
}

/** Joins the forward channel to the executor's PortForward stream, with backpressure both ways. */
function pipeForward(
  ctx: FrontendContext,
  channel: ServerChannel,
  opened: OpenedSession,
  start: { namespace: string; pod: string; port: number },
  moderation?: ModerationClaim,
): void {
  const call = opened.client.portForward({ traceparent: opened.traceparent, moderation: () => moderation });
  call.write({
    start: { target: { namespace: start.namespace, pod: start.pod, container: '' }, port: start.port },
  });
  // Data towards the pod in messages of up to 128 KiB rather than one per SSH packet.
  const towardsPod = new ChunkCoalescer((chunk) => forwardChunk(call, { data: chunk }, channel));
  channel.on('data', (chunk: Buffer) => towardsPod.push(chunk));
  channel.on('end', () => {
    towardsPod.flush();
    call.end();
  });
  call.on('data', (frame: { data: Buffer }) => forwardChunk(channel, frame.data, call));
  call.on('end', () => channel.end());
  call.on('error', (error) => {
    ctx.log.info({ code: fromGrpcError(error).code }, 'port-forward ended with an error');
    channel.destroy();
  });
  channel.on('close', () => call.cancel());
}

/**
 * Refused before the intent was decided (no port-forwarding right, no
 * executor session): `intent.denied` with the ids there are, none when the
 * session never opened.
 */
function auditRefusedForward(
  ctx: FrontendContext,
  state: ConnectionState,
  info: { destIP: string; destPort: number },
  error: AirlockError,
  opened: OpenedSession | undefined,
): void {
  const ids = opened && { ...sessionAuditIds(opened.session), trace_id: traceIdOf(opened.traceparent) };
  const event: AuditEventInput = {
    event: 'intent.denied',
    ...ids,
    actor: { user: state.identity?.principal, address: state.address },
    target: { pod: info.destIP, port: info.destPort, resource: 'pods/portforward' },
    decision: 'deny',
    code: error.code,
    reason: error.message,
  };
  void ctx.audit(event);
}

/**
 * Stage 4c, a direct-tcpip channel (`ssh -L`, `ssh -W`; RFC 4254 §7.2): a
 * PortForward intent. It needs permit-port-forwarding, then goes through the
 * same authorize-and-audit path as every command (`intent.allowed` or
 * `intent.denied`, on the mediator's verified scope) before the channel is
 * accepted and joined to the executor's PortForward stream.
 */
export async function handleForward(
  ctx: FrontendContext,
  accept: () => ServerChannel,
  reject: RejectChannel,
  info: { destIP: string; destPort: number },
  state: ConnectionState,
): Promise<void> {
  let opened: OpenedSession | undefined;
  const audited: CommandAudit = { failureRecorded: false };
  try {
    if (state.identity?.extensions['permit-port-forwarding'] === undefined) {
      throw new AirlockError('ACTION_NOT_ALLOWED', 'this certificate does not permit port forwarding');
    }
    opened = await state.opened!;
    const { namespace, pod } = parseForwardDestination(info.destIP, opened.session.scope.namespace);
    const port = info.destPort;
    // The mediator's own verified scope: a runbook session is refused here too.
    await authorizeAndAudit(
      { ...commandContext(ctx, opened, state), audited },
      { action: 'port-forward', namespace, pod, port },
      { namespace, pod, port, resource: 'pods/portforward' },
    );
    pipeForward(ctx, accept(), opened, { namespace, pod, port }, audited.moderation);
  } catch (error) {
    const airlock = error instanceof AirlockError ? error : fromGrpcError(error);
    if (audited.allowed && opened) {
      await auditFailure({ ...commandContext(ctx, opened, state), audited }, audited.allowed, airlock);
    } else if (!audited.failureRecorded) {
      auditRefusedForward(ctx, state, info, airlock, opened);
    }
    const { reasonCode, description } = forwardRefusal(airlock);
    reject(reasonCode, description);
  }
}
