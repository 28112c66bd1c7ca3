import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type ClientInfo, type Connection } from 'ssh2';
import type { RejectChannel } from '../channel-open-failure.js';
import { createPreauthLimiter, type PendingSocket } from '../preauth-limiter.js';
import { HARDENED_ALGORITHMS } from '../ssh-algorithms.js';
import { recordAuthenticated, releasePrincipal } from '../ssh-auth.js';
import { admitConnection, newAdmittedConnection } from '../ssh-connection.js';
import { handleDirectTcpip, refuseSession } from './door-channels.js';
import {
  createDoorContext,
  type DoorConnectionState,
  type DoorContext,
  type DoorDeps,
} from './door-context.js';

export { DEFAULT_DOOR_LIMITS, type DoorDeps, type DoorLimits } from './door-context.js';

// ssh2 is CommonJS: its classes are reachable only through the default export under Node's ESM loader.
const { Server } = ssh2;

function newConnectionState(ctx: DoorContext, info: ClientInfo): DoorConnectionState {
  return { ...newAdmittedConnection(ctx.tracer, 'door.connection', info), closed: new AbortController() };
}

/**
 * After authentication: the connection ends when the certificate does, and
 * channel opens are answered — session channels refused, `direct-tcpip`
 * to the certificate's request's mediator, every other kind refused by ssh2
 * (no listener), and global requests (`ssh -R`) refused.
 */
function onAuthenticated(ctx: DoorContext, client: Connection, state: DoorConnectionState): void {
  recordAuthenticated(ctx, state);
  const endsInMs = Number(state.identity!.validBefore) * 1000 - ctx.deps.clock().getTime();
  // setTimeout's bound is 2^31-1 ms; admission already capped the lifetime by policy.
  state.timers.push(setTimeout(() => client.end(), Math.max(0, Math.min(endsInMs, 2 ** 31 - 1))));
  client.on('session', (_accept, reject) => refuseSession(ctx, reject as RejectChannel, state));
  client.on('tcpip', (accept, reject, info) => {
    void handleDirectTcpip(ctx, accept, reject as RejectChannel, info, state);
  });
  client.on('request', (_accept, reject) => reject?.());
}

function onConnection(ctx: DoorContext, client: Connection, info: ClientInfo, socket?: PendingSocket) {
  const state = newConnectionState(ctx, info);
  ctx.doorMetrics.connectionsActive.add(1);
  admitConnection(ctx, client, state, socket, () => onAuthenticated(ctx, client, state));
  client.on('close', () => {
    state.closed.abort();
    for (const timer of state.timers) clearTimeout(timer);
    ctx.doorMetrics.connectionsActive.add(-1);
    releasePrincipal(ctx, state);
    state.span.end();
  });
}

/**
 * The jump door: a standing SSH server in front of the per-request
 * mediators. It admits a connection exactly as the mediator does (the same
 * `preauth-limiter.ts` and `ssh-auth.ts`: CA, validity, principal, source
 * address, revocation, airlock scope, policy TTL, the login signature), runs
 * nothing, and forwards one kind of channel: `direct-tcpip` to the mediator
 * of the request named in the certificate's scope (`door-channels.ts`).
 */
export function createDoor(deps: DoorDeps) {
  const ctx = createDoorContext(deps);
  const connections = new Set<Connection>();
  const server = new Server(
    { hostKeys: [deps.hostKey.privateKey], algorithms: HARDENED_ALGORITHMS, ident: 'airlock-door' },
    (client, info) => {
      connections.add(client);
      client.on('close', () => connections.delete(client));
      onConnection(ctx, client, info, limiter.pending(info.ip, info.port));
    },
  );
  const limiter = createPreauthLimiter(ctx, (socket) => server.injectSocket(socket));
  return {
    listen: limiter.listen,
    /**
     * Graceful shutdown: stop accepting, let open jumps (inner sessions)
     * finish for up to `drainMs`, then end what is left.
     */
    async stop(drainMs = 0): Promise<void> {
      limiter.drain();
      const deadline = performance.now() + drainMs;
      while (connections.size > 0 && performance.now() < deadline) await sleep(100);
      for (const client of connections) client.end();
    },
  };
}

export type Door = ReturnType<typeof createDoor>;
