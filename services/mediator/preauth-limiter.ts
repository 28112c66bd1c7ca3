import { createServer, type Socket, type Server as TcpServer } from 'node:net';
import type { AdmissionContext } from './ssh-auth.js';
import { coalesceWrites } from './write-coalescing.js';

/** A socket the limiter admitted: tell it when the connection has authenticated. */
export interface PendingSocket {
  authenticated(): void;
}

/**
 * Stage 1, the network connection: the limits that protect the pre-auth
 * phase. They live here, at the TCP layer, because ssh2 reports a connection
 * only after the client's identification string: a peer that connects and
 * stays silent must be counted and timed out too. Sockets admitted but not
 * yet authenticated are counted per source address and closed after
 * `preAuthTimeoutMs`; while draining, every new socket is refused.
 */
export function createPreauthLimiter(
  ctx: Pick<AdmissionContext, 'deps' | 'audit'>,
  inject: (socket: Socket) => void,
) {
  const { deps } = ctx;
  const unauthenticated = new Map<string, number>();
  /** Admitted sockets by `ip:port`, until they authenticate or close. */
  const pending = new Map<string, PendingSocket>();
  let draining = false;

  const tcp: TcpServer = createServer((socket) => {
    const address = socket.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const count = (unauthenticated.get(address) ?? 0) + 1;
    if (draining || count > deps.limits.maxUnauthenticatedPerSource) {
      void ctx.audit({
        event: 'connection.opened',
        actor: { address },
        target: {},
        decision: 'deny',
        code: draining ? 'EXECUTOR_SHUTDOWN' : 'LIMIT_EXCEEDED',
      });
      socket.destroy();
      return;
    }
    unauthenticated.set(address, count);
    let counted = true;
    const timer = setTimeout(() => socket.destroy(), deps.limits.preAuthTimeoutMs);
    const leave = () => {
      clearTimeout(timer);
      pending.delete(key);
      if (!counted) return;
      counted = false;
      const left = (unauthenticated.get(address) ?? 1) - 1;
      if (left <= 0) unauthenticated.delete(address);
      else unauthenticated.set(address, left);
    };
    pending.set(key, { authenticated: leave });
    socket.once('close', leave);
    // No Nagle delay: ssh2 writes each packet on its own, and a small packet
    // queued behind an unacknowledged one would wait for the client's delayed
    // ACK (tens of ms per handshake round). Writes of one turn still go out
    // together: coalesceWrites gives the kernel one writev per turn.
    socket.setNoDelay(true);
    coalesceWrites(socket);
    inject(socket);
  });

  return {
    tcp,
    /** Listens on `host:port`; resolves with the port bound (`port` 0: one the system chose). */
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          const address = tcp.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    /** The admitted socket ssh2 reports as `ip:port`, whose pre-auth clock is running. */
    pending(ip: string, port: number): PendingSocket | undefined {
      return pending.get(`${ip}:${port}`);
    },
    /** Refuse every new socket from now on (graceful shutdown), and stop listening. */
    drain(): void {
      draining = true;
      tcp.close();
    },
  };
}

export type PreauthLimiter = ReturnType<typeof createPreauthLimiter>;
