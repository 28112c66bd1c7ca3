import type { Socket } from 'node:net';

/**
 * Coalesces the writes made to `socket` within one turn of the event loop
 * into one: the first write of a turn corks the socket, and a `setImmediate`
 * uncorks it once the turn's I/O callbacks have run, so libuv gets every
 * buffered chunk in a single `writev`.
 *
 * Why: ssh2 hands each encrypted SSH packet (at most 32 KiB of channel
 * data with OpenSSH) to `socket.write` on its own, so a stream costs one
 * syscall per packet; a CPU profile of 64 MiB stdout transfers put those
 * writes first in the mediator. Nothing is reordered or dropped: corked
 * chunks keep their order, `end()` uncorks and flushes, and ssh2's own flow
 * control (the SSH channel window) is unchanged. The delay is at most the
 * rest of the current loop iteration.
 */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function coalescedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.writableEnded && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
