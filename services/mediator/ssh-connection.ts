import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import type { ClientInfo, Connection } from 'ssh2';
import { withTraceIds } from '../core/observability/telemetry.js';
import type { AdmittedConnectionState } from './connection-state.js';
import type { PendingSocket } from './preauth-limiter.js';
import { type AdmissionContext, type AdmissionState, authenticate } from './ssh-auth.js';

/**
 * What the two SSH servers (the mediator's front door, ssh-frontend.ts, and
 * the jump door, door/door-server.ts) do alike with each connection before
 * they part ways: its id and span, and the admission events (their
 * audit writer is audit-writer.ts).
 */

/**
 * A new connection's state as admission starts it: a random id, not yet
 * authenticated, and its span `name`, the root of a trace of its own.
 */
export function newAdmittedConnection(
  tracer: Tracer,
  name: string,
  info: ClientInfo,
): AdmittedConnectionState {
  const id = randomBytes(8).toString('hex');
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.SERVER, attributes: { 'client.address': info.ip, 'airlock.connection_id': id } },
    ROOT_CONTEXT,
  );
  return { id, address: info.ip, authenticated: false, span: withTraceIds(span), timers: [] };
}

/**
 * The admission events of one ssh2 connection: `authentication` admits the
 * certificate or refuses it (ssh-auth.ts); on `ready` the socket's pre-auth
 * clock stops and `onReady` runs; a connection error is logged at debug.
 */
export function admitConnection(
  ctx: AdmissionContext,
  client: Connection,
  state: AdmissionState,
  socket: PendingSocket | undefined,
  onReady: () => void,
): void {
  client.on('authentication', (auth) => authenticate(ctx, auth, state));
  client.on('ready', () => {
    socket?.authenticated();
    onReady();
  });
  client.on('error', (error) => ctx.log.debug({ err: error, address: state.address }, 'connection error'));
}
