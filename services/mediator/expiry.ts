import type { Connection } from 'ssh2';
import { sessionAuditIds } from '../core/session/session.js';
import { EXIT_CODES } from './command-language/exit-codes.js';
import {
  type ConnectionState,
  type FrontendContext,
  finish,
  type OpenedSession,
} from './frontend-context.js';

/**
 * Ends every channel at certificate expiry (`SESSION_EXPIRED`, audited as
 * `session.expired`), then the connection; interactive sessions are warned
 * `expiryWarningMs` before. The timers are cleared when the connection closes.
 */
export function scheduleExpiry(
  ctx: FrontendContext,
  client: Connection,
  state: ConnectionState,
  opened: OpenedSession,
): void {
  const { session } = opened;
  const left = session.expiresAtMs - ctx.deps.clock().getTime();
  const warn = setTimeout(
    () => {
      for (const channel of state.interactive)
        channel.stderr.write('\r\nairlock: session expires in 1 minute\r\n');
    },
    Math.max(0, left - ctx.deps.limits.expiryWarningMs),
  );
  const expire = setTimeout(
    () => {
      void ctx.audit({
        event: 'session.expired',
        actor: { user: session.user, address: state.address },
        target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
        code: 'SESSION_EXPIRED',
        ...sessionAuditIds(session),
      });
      for (const channel of state.channels) {
        channel.stderr.write('airlock: SESSION_EXPIRED: session expired\r\n');
        finish(channel, EXIT_CODES.SESSION_EXPIRED);
      }
      setTimeout(() => client.end(), 100);
    },
    Math.max(0, left),
  );
  state.timers.push(warn, expire);
}

/**
 * Graceful shutdown, once new sockets are refused: let sessions finish for
 * up to `drainMs`, then end every running command with `EXECUTOR_SHUTDOWN`
 * and close what is left.
 */
export async function shutDownConnections(ctx: FrontendContext, drainMs: number): Promise<void> {
  const { connections } = ctx;
  const deadline = Date.now() + drainMs;
  while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const { state } of connections) {
    for (const channel of state.channels) {
      channel.stderr.write('airlock: EXECUTOR_SHUTDOWN: the gateway is shutting down\r\n');
      finish(channel, EXIT_CODES.UNAVAILABLE);
    }
  }
  // Let the exit statuses reach the clients before the connections go.
  await new Promise((r) => setTimeout(r, 200));
  for (const { client } of connections) client.end();
}
