import ssh2, { type ClientInfo, type Connection } from 'ssh2';
import type { RejectChannel } from './channel-open-failure.js';
import { closeExecutorSession, startExecutorSession } from './executor-session.js';
import { scheduleExpiry, shutDownConnections } from './expiry.js';
import {
  type ConnectionState,
  createFrontendContext,
  type FrontendContext,
  type MediatorDeps,
} from './frontend-context.js';
import { endLiveSession, registerLiveSession } from './live/live-registry.js';
import { handleForward } from './port-forward.js';
import { createPreauthLimiter, type PendingSocket } from './preauth-limiter.js';
import { handleSessionChannel } from './session-channel.js';
import { HARDENED_ALGORITHMS, ssh2HostKeys } from './ssh-algorithms.js';
import { recordAuthenticated, releasePrincipal } from './ssh-auth.js';
import { admitConnection, newAdmittedConnection } from './ssh-connection.js';

export { DEFAULT_LIMITS, type MediatorDeps, type MediatorLimits } from './frontend-context.js';
export { parseForwardDestination } from './port-forward.js';

// ssh2 is CommonJS: its classes are reachable only through the default export under Node's ESM loader.
const { Server } = ssh2;

function newConnectionState(ctx: FrontendContext, info: ClientInfo): ConnectionState {
  return {
    ...newAdmittedConnection(ctx.tracer, 'ssh.session', info),
    channels: new Set(),
    interactive: new Set(),
  };
}

/** After authentication: the executor session opens, and channels may be opened. */
function onAuthenticated(
  ctx: FrontendContext,
  client: Connection,
  state: ConnectionState,
  touch: () => void,
) {
  recordAuthenticated(ctx, state);
  startExecutorSession(ctx, state, (opened) => {
    scheduleExpiry(ctx, client, state, opened);
    registerLiveSession(ctx, client, state, opened);
  });
  client.on('session', (accept) => {
    touch();
    handleSessionChannel(ctx, accept(), state);
  });
  client.on('tcpip', (accept, reject, forward) => {
    touch();
    // ssh2's reject takes a reason code and description with airlock's patch.
    void handleForward(ctx, accept, reject as RejectChannel, forward, state);
  });
  client.on('request', (_accept, reject) => reject?.());
}

/**
 * One SSH connection, from ssh2's handshake to close: the stages in order
 * are authentication (`ssh-auth.ts`), the executor session
 * (`executor-session.ts`), then per channel a session (`session-channel.ts`)
 * or a forward (`port-forward.ts`); expiry (`expiry.ts`) ends it.
 */
function onConnection(ctx: FrontendContext, client: Connection, info: ClientInfo, socket?: PendingSocket) {
  const { deps, connections, metrics } = ctx;
  const state = newConnectionState(ctx, info);
  const entry = { client, state };
  connections.add(entry);
  metrics.connectionsActive.set(connections.size);
  void ctx.audit({ event: 'connection.opened', actor: { address: state.address }, target: {} });
  let idle = setTimeout(() => client.end(), deps.limits.idleTimeoutMs);
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => client.end(), deps.limits.idleTimeoutMs);
  };
  admitConnection(ctx, client, state, socket, () => onAuthenticated(ctx, client, state, touch));
  client.on('close', () => {
    clearTimeout(idle);
    for (const timer of state.timers) clearTimeout(timer);
    connections.delete(entry);
    metrics.connectionsActive.set(connections.size);
    releasePrincipal(ctx, state);
    endLiveSession(ctx, state);
    // The span ends once CloseSession has been answered (at once when no session was opened).
    void closeExecutorSession(ctx, state).finally(() => state.span.end());
    void ctx.audit({
      event: 'connection.closed',
      actor: { user: state.identity?.principal, address: state.address },
      target: {},
    });
  });
}

/**
 * The SSH front door: ssh2 with hardened algorithms, OpenSSH user
 * certificates as the only way in, a command language per session, and
 * port forwarding as PortForward intents. It holds no Kubernetes credential;
 * everything goes to the executor over mTLS with a per-connection session
 * grant. A connection passes the stages in order: `preauth-limiter.ts` (TCP),
 * `ssh-auth.ts`, `executor-session.ts`, `session-channel.ts` →
 * `one-shot.ts` | `interactive.ts`, or `port-forward.ts`; `expiry.ts` ends it.
 */
export function createSshFrontend(deps: MediatorDeps) {
  const ctx = createFrontendContext(deps);
  const server = new Server(
    { hostKeys: ssh2HostKeys(deps.hostKey), algorithms: HARDENED_ALGORITHMS, ident: 'airlock' },
    // The TCP layer admitted this socket and runs its pre-auth clock.
    (client, info) => onConnection(ctx, client, info, limiter.pending(info.ip, info.port)),
  );
  const limiter = createPreauthLimiter(ctx, (socket) => server.injectSocket(socket));

  return {
    server,
    /**
     * Channels whose command is still running, summed over open connections:
     * the ones expiry and shutdown would end. A finished command's channel is
     * not counted, even while its connection stays open.
     */
    runningChannels(): number {
      let count = 0;
      for (const { state } of ctx.connections) count += state.channels.size;
      return count;
    },
    listen: limiter.listen,
    /**
     * Graceful shutdown: stop accepting, let sessions finish for up to
     * `drainMs`, then close what is left with a message.
     */
    async stop(drainMs: number): Promise<void> {
      limiter.drain();
      await shutDownConnections(ctx, drainMs);
    },
  };
}

export type SshFrontend = ReturnType<typeof createSshFrontend>;
