/**
 * The executor's HTTP/2 receive window, per stream and per connection.
 *
 * grpc-js has a channel option for a client's window
 * ('grpc-node.flow_control_window', which the mediator sets: executor-client.ts)
 * but none for a server's, so the executor would receive with HTTP/2's
 * default 64 KiB per stream and per connection: an exec's stdin (and
 * port-forward data towards the pod) then moves one 64 KiB window per round
 * trip through the mediator's event loop. This widens both on the server's
 * own HTTP/2 objects. It uses two grpc-js internals (the server options'
 * `settings`, applied when a port is bound, and the bound HTTP/2 servers);
 * when a grpc-js release changes them nothing is widened and
 * `widenReceiveWindow` says so, and the defaults apply.
 * Backpressure is unchanged: a call that is not read stops being granted
 * window, so this is also the most one connection's input can buffer.
 */
import type * as grpc from '@grpc/grpc-js';

/** Matches the mediator's window on its executor channel (EXECUTOR_FLOW_CONTROL_WINDOW). */
export const EXECUTOR_RECEIVE_WINDOW = 2 * 1024 * 1024;

interface SessionLike {
  setLocalWindowSize(bytes: number): void;
}

interface ServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<{ on(event: 'session', l: (s: SessionLike) => void): unknown }, unknown>;
}

/** Before `bindAsync`: the per-stream window every connection's SETTINGS announce. */
export function widenStreamWindow(server: grpc.Server, bytes = EXECUTOR_RECEIVE_WINDOW): boolean {
  const internals = server as unknown as ServerInternals;
  const options = internals.commonServerOptions;
  if (typeof options !== 'object' || options === null) return false;
  options.settings = { ...options.settings, initialWindowSize: bytes };
  return true;
}

/** After `bindAsync`: the connection-level window of every new connection. */
export function widenConnectionWindow(server: grpc.Server, bytes = EXECUTOR_RECEIVE_WINDOW): boolean {
  const servers = (server as unknown as ServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const http2Server of servers.keys())
    http2Server.on('session', (session) => {
      try {
        session.setLocalWindowSize(bytes);
      } catch {
        // A session that is already closing keeps the default.
      }
    });
  return true;
}
