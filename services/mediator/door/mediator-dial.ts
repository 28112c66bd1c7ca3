import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../../core/errors.js';
import type { MediatorAddress, MediatorResolver } from './mediator-resolver.js';

/** How the door waits for a request's mediator. */
export interface DialOptions {
  resolver: MediatorResolver;
  /** The bound: a mediator that is not resolved and connected by then is MEDIATOR_NOT_READY. */
  readyTimeoutMs: number;
  /** The pause between attempts (resolve, then connect). */
  retryMs: number;
  /**
   * One attempt's own bound: the TCP connect and the mediator's first bytes
   * (a ClusterIP without endpoints may drop packets rather than refuse).
   */
  connectTimeoutMs: number;
}

/** How every SSH server's identification string starts (RFC 4253 §4.2); the mediator sends it first. */
const SSH_IDENTIFICATION = Buffer.from('SSH-');

/**
 * A TCP connection to `address` whose far end has sent the start of an SSH
 * identification, or a rejection after `timeoutMs`, on abort, or when it
 * answers with anything else. A connection alone proves nothing: a
 * ClusterIP that kube-proxy has not programmed yet can be routed off the
 * node, where a network that intercepts TCP accepts it and never answers
 * (seen on the real node: the client's banner exchange timed out after 60 s
 * while the door waited on the socket). The bytes read are put back, so the
 * caller's pipe forwards the whole identification.
 */
function connectOnce(address: MediatorAddress, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(new Error('aborted'));
    const onEnd = () => fail(new Error('closed before sending an SSH identification'));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = received.subarray(0, SSH_IDENTIFICATION.length);
      if (!head.equals(SSH_IDENTIFICATION.subarray(0, head.length))) {
        fail(new Error('answered, but not with an SSH identification'));
        return;
      }
      if (received.length < SSH_IDENTIFICATION.length) return;
      cleanup();
      socket.pause();
      socket.unshift(received);
      // From here a failure ends the socket, which its user sees as 'close'.
      socket.on('error', () => socket.destroy());
      resolve(socket);
    };
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            socket.connecting
              ? `no connection within ${timeoutMs} ms`
              : `connected, but no SSH identification within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail);
      socket.removeListener('end', onEnd);
      socket.removeListener('data', onData);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('end', onEnd);
    socket.on('data', onData);
  });
}

const NO_SERVICE = 'no mediator Service for the request';

/**
 * The user's message at the bound. No Service at all is also what a request
 * whose pods are gone looks like (revoked, expired, failed to launch) while
 * the door's revocation list has not caught up yet: say so, not only "try
 * again" (seen on the real node after a revocation).
 */
function notReadyMessage(requestId: string, seconds: number, lastProblem: string): string {
  const waited = `the mediator of request ${requestId} is not ready after ${seconds}s`;
  if (lastProblem !== NO_SERVICE) return `${waited}; try again shortly`;
  return `${waited}: it has no Service (just approved: try again shortly; else see airlock status ${requestId}: launch failed, revoked or expired)`;
}

/** One attempt: the socket, or why there is none yet. Final answers (AirlockError) are thrown. */
async function attempt(
  requestId: string,
  options: DialOptions,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Socket | string> {
  let address: MediatorAddress | undefined;
  try {
    address = await options.resolver.resolve(requestId);
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    return `resolving failed: ${(error as Error).message}`;
  }
  if (address === undefined) return NO_SERVICE;
  try {
    return await connectOnce(address, Math.min(options.connectTimeoutMs, timeoutMs), signal);
  } catch (error) {
    return `connecting to ${address.host}:${address.port} failed: ${(error as Error).message}`;
  }
}

/**
 * Connects to the mediator of `requestId`, waiting for it: pods are created
 * at approval, so a user who connects at once may arrive before the mediator
 * has a Service or accepts connections. Until `readyTimeoutMs` has passed it
 * resolves and connects again every `retryMs`; then it refuses with
 * MEDIATOR_NOT_READY (the last problem goes in `detail`, for the operator's
 * log). A resolver's AirlockError is final and rejects at once. `signal`
 * (the client went away) stops the wait; the returned socket is the
 * caller's to close, and reports a failure by closing.
 */
export async function dialMediator(
  requestId: string,
  options: DialOptions,
  signal: AbortSignal,
): Promise<Socket> {
  const deadline = performance.now() + options.readyTimeoutMs;
  for (;;) {
    if (signal.aborted) throw new AirlockError('CLIENT_CANCELLED', 'the client went away');
    const left = Math.max(1, deadline - performance.now());
    const result = await attempt(requestId, options, left, signal);
    if (typeof result !== 'string') return result;
    if (performance.now() + options.retryMs >= deadline) {
      const seconds = options.readyTimeoutMs / 1000;
      throw new AirlockError('MEDIATOR_NOT_READY', notReadyMessage(requestId, seconds, result), {
        detail: result,
      });
    }
    await sleep(options.retryMs, undefined, { signal }).catch(() => undefined);
  }
}
