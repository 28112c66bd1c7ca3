import type { Socket } from 'node:net';
import type { ServerChannel } from 'ssh2';
import type { AuditEventInput } from '../../core/audit/types.js';
import { AirlockError } from '../../core/errors.js';
import { traceIdsOf } from '../../core/observability/telemetry.js';
import { admitCertificate } from '../../core/session/certificate-admission.js';
import { parseCertificate } from '../../core/ssh-cert/index.js';
import type { RejectChannel } from '../channel-open-failure.js';
import { refuseChannel } from './channel-refusal.js';
import { auditedDestination, checkDestination, type RequestedDestination } from './destination.js';
import type { DoorConnectionState, DoorContext } from './door-context.js';
import { dialMediator } from './mediator-dial.js';

/** The `door.connect` record of one channel open, allowed or refused. */
function connectRecord(
  state: DoorConnectionState,
  channel: 'session' | 'direct-tcpip',
  requested: RequestedDestination | undefined,
): AuditEventInput {
  const identity = state.identity;
  const { traceId, spanId } = traceIdsOf(state.span);
  return {
    event: 'door.connect',
    actor: { user: identity?.principal, address: state.address },
    target: identity ? { cluster: identity.scope.cluster, namespace: identity.scope.namespace } : {},
    ...(identity ? { request_id: identity.scope.requestId } : {}),
    ...(traceId ? { trace_id: traceId, span_id: spanId } : {}),
    details: {
      channel,
      ...(requested ? { destination: auditedDestination(requested) } : {}),
      ...(identity ? { serial: identity.serial.toString(), key_id: identity.keyId } : {}),
    },
  };
}

/** Refuses the channel open with its code, audited (`door.connect`, deny) and counted. */
function refuse(ctx: DoorContext, reject: RejectChannel, record: AuditEventInput, error: unknown): void {
  const airlock = error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error');
  void ctx.audit({ ...record, decision: 'deny', code: airlock.code, reason: airlock.message });
  ctx.doorMetrics.channels.inc({ result: airlock.code });
  ctx.log.info(
    { code: airlock.code, detail: airlock.detail, request_id: record.request_id },
    'channel refused',
  );
  // A client that went away while the door waited gets no answer.
  if (airlock.code !== 'CLIENT_CANCELLED') refuseChannel(reject, airlock);
}

/**
 * A session channel (shell, exec, subsystem, pty all need one): the door
 * offers none. Refused at the open, so no request on it is ever read.
 */
export function refuseSession(ctx: DoorContext, reject: RejectChannel, state: DoorConnectionState): void {
  refuse(
    ctx,
    reject,
    connectRecord(state, 'session', undefined),
    new AirlockError(
      'DOOR_SESSION_REFUSED',
      'the airlock door runs no shell or command; jump through it: ssh -J <door> <request-id>',
    ),
  );
}

/**
 * The certificate again, at the moment of the channel open: still within its
 * validity and not revoked since the login (revocation lists are re-read
 * when they change). Same admission as at authentication.
 */
function readmit(ctx: DoorContext, state: DoorConnectionState): void {
  const { deps } = ctx;
  admitCertificate(parseCertificate(state.certificate!), {
    trustedCAs: deps.trustedSshCas(),
    principal: state.identity!.principal,
    now: deps.clock(),
    clientAddress: state.address,
    revocation: deps.revocation(),
    policy: deps.policy(),
  });
}

/** Joins the channel and the mediator socket both ways; either side ending ends the other. */
function splice(channel: ServerChannel, socket: Socket): void {
  channel.pipe(socket);
  socket.pipe(channel);
  socket.on('error', () => channel.destroy());
  channel.on('error', () => socket.destroy());
  socket.on('close', () => channel.destroy());
  channel.on('close', () => socket.destroy());
}

/**
 * A `direct-tcpip` channel (RFC 4254 §7.2; what `ssh -J` / `ssh -W` opens):
 * the one thing the door does. The destination must be the certificate's own
 * request (`destination.ts`); the certificate is re-admitted; the mediator
 * of that request is resolved and reached (waiting up to the bound); the
 * allowed record is on disk before the channel is accepted. The inner SSH
 * session then runs end to end between the client and the mediator: the
 * door sees only its ciphertext.
 */
export async function handleDirectTcpip(
  ctx: DoorContext,
  accept: () => ServerChannel,
  reject: RejectChannel,
  info: { destIP: string; destPort: number },
  state: DoorConnectionState,
): Promise<void> {
  const requested = { host: info.destIP, port: info.destPort };
  const record = connectRecord(state, 'direct-tcpip', requested);
  let socket: Socket | undefined;
  try {
    const requestId = state.identity!.scope.requestId;
    checkDestination(requested, requestId);
    readmit(ctx, state);
    const { limits } = ctx.deps;
    socket = await dialMediator(
      requestId,
      {
        resolver: ctx.deps.resolver,
        readyTimeoutMs: limits.mediatorReadyMs,
        retryMs: limits.mediatorRetryMs,
        connectTimeoutMs: limits.mediatorConnectMs,
      },
      state.closed.signal,
    );
    const mediator = `${socket.remoteAddress}:${socket.remotePort}`;
    // Fail closed: no record on disk, no channel.
    await ctx.deps.audit.append(
      { ...record, decision: 'allow', details: { ...record.details, mediator } },
      { durable: true },
    );
    ctx.doorMetrics.channels.inc({ result: 'allow' });
    splice(accept(), socket);
  } catch (error) {
    socket?.destroy();
    refuse(ctx, reject, record, error);
  }
}
