/**
 * The streaming side of the Kubernetes gateway: exec, port-forward and
 * pod logs over client-node's WebSocket and HTTP streams, with backpressure
 * in both directions (services/core/streams/backpressure.ts) and a broken
 * connection reported as KUBERNETES_UNAVAILABLE rather than a hang.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Exec, type KubeConfig, PortForward, type V1Status } from '@kubernetes/client-node';
import { AirlockError } from '../core/errors.js';
import { forwardChunk, type Pausable } from '../core/streams/backpressure.js';
import { connectionLost } from './kube-errors.js';
import type { ExecIo, ExecResult, PodTarget } from './kube-types.js';
import { OutputHoldback, outputUnconfirmed } from './output-completeness.js';

/** RFC 6455 section 7.1.5: the connection closed without a close frame. */
const ABNORMAL_CLOSURE = 1006;

type PausableSocket = Pausable;

/**
 * Ends a Kubernetes stream now. A WebSocket close alone is not enough: the
 * apiserver does not answer the close handshake while the process runs, so
 * the exec would stay open; terminating the connection makes the apiserver
 * close its stream to the kubelet at once.
 */
function endNow(ws: { close(): void; terminate?(): void } | undefined): void {
  ws?.close();
  ws?.terminate?.();
}

/**
 * Passes output on to `target` and, while `target` wants a drain, pauses
 * the WebSocket it comes from: client-node writes every frame it receives
 * and ignores `write()`'s return value, so without this a slow reader would
 * make the executor buffer the pod's whole output. With it, TCP flow control
 * reaches back through the apiserver to the process in the pod.
 * A terminal's size (columns, rows, 'resize') is forwarded for client-node.
 */
function flowControlled(target: Writable, socket: Pausable): Writable {
  const proxy = new Writable({
    write(chunk: Buffer, _encoding, done) {
      forwardChunk(target, chunk, socket);
      done();
    },
    final(done) {
      target.end();
      finished(target).then(() => done(), done);
    },
  });
  const terminal = target as Writable & { columns?: number; rows?: number };
  if (terminal.columns !== undefined) {
    Object.defineProperty(proxy, 'columns', { get: () => terminal.columns });
    Object.defineProperty(proxy, 'rows', { get: () => terminal.rows });
    target.on('resize', () => proxy.emit('resize'));
  }
  return proxy;
}

/**
 * Bytes that may wait in a Kubernetes WebSocket's send queue before input
 * stops being read. Enough to keep a fast pod busy between two checks,
 * small enough that one session cannot grow the executor's memory.
 */
const INPUT_QUEUE_BOUND_BYTES = 1024 * 1024;
/** How often waiting input looks at the send queue again when the WebSocket's own socket is not reachable. */
const INPUT_POLL_MS = 5;
/** WebSocket readyState OPEN (the WHATWG WebSocket interface, which ws follows). */
const WS_OPEN = 1;

interface SendingSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  /** ws's TCP (TLS) socket: ws itself has no 'drain' event, its socket does. */
  readonly _socket?: {
    once(event: 'drain' | 'close', l: () => void): unknown;
    off(event: 'drain' | 'close', l: () => void): unknown;
  };
}

/**
 * Calls `then` once `into` and the WebSocket `ws` can take more input:
 * event-driven on `into`'s 'drain' and on the 'drain' (or 'close') of ws's
 * socket, whose write buffer is most of `bufferedAmount`; polling only when
 * that socket is not reachable (another WebSocket implementation).
 */
function whenRoom(into: Writable, ws: SendingSocket, then: () => void): void {
  if (into.writableNeedDrain) {
    into.once('drain', () => whenRoom(into, ws, then));
    return;
  }
  if (ws.readyState !== WS_OPEN || ws.bufferedAmount <= INPUT_QUEUE_BOUND_BYTES) {
    then();
    return;
  }
  const socket = ws._socket;
  if (!socket) {
    setTimeout(() => whenRoom(into, ws, then), INPUT_POLL_MS);
    return;
  }
  const wake = () => {
    socket.off('drain', wake);
    socket.off('close', wake);
    whenRoom(into, ws, then);
  };
  socket.once('drain', wake);
  socket.once('close', wake);
}

/**
 * Moves input (stdin, or port-forward data towards the pod) from `source`
 * into `into`, the stream client-node reads and sends on the WebSocket
 * `ws`, no faster than the socket gets its frames out. client-node sends
 * every chunk it reads and never looks at `bufferedAmount`, so without this
 * a pod that reads slowly (or never) would make the executor queue all the
 * client's input in memory. Here, while more than INPUT_QUEUE_BOUND_BYTES
 * wait to be sent, `source` is paused; its own buffer then fills and its
 * writer (the gRPC handler) stops reading the call, so HTTP/2 and SSH flow
 * control push back to the client. Order is kept (one chunk at a time), and
 * the end of `source` ends `into` after its last byte, which client-node
 * turns into the stdin close (v5.channel.k8s.io). Once the socket is no
 * longer open nothing waits: input then drains away and the call can end.
 */
function pumpInput(source: Readable, into: Writable, ws: SendingSocket): void {
  const mustWait = () =>
    into.writableNeedDrain || (ws.readyState === WS_OPEN && ws.bufferedAmount > INPUT_QUEUE_BOUND_BYTES);
  source.on('data', (chunk: Buffer) => {
    into.write(chunk);
    if (mustWait()) {
      source.pause();
      whenRoom(into, ws, () => source.resume());
    }
  });
  source.once('end', () => into.end());
}

/** The exit code a Kubernetes exec status reports (0 on Success). */
export function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  if (Number.isInteger(code)) return code;
  throw new AirlockError('KUBERNETES_ERROR', status.message ?? 'exec failed', {
    detail: JSON.stringify(status),
  });
}

/**
 * GET pods/log as a byte stream into `out`, ending `out` when the API ends
 * the response. Written here rather than with client-node's `Log`, which
 * pipes the response body into `out` and so never reports a connection that
 * breaks mid-stream: a `logs -f` whose API server went away would hang
 * forever. Here a response that closes without its end rejects with
 * KUBERNETES_UNAVAILABLE, and `signal` ends the stream (resolving: the
 * caller checks `signal.aborted`).
 */
export async function streamPodLog(
  kubeConfig: KubeConfig,
  target: PodTarget,
  options: { follow: boolean; sinceSeconds?: number; tailLines?: number; timestamps: boolean },
  out: Writable,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<void> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new AirlockError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster');
  const url = new URL(
    `${server}/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/log`,
  );
  url.searchParams.set('container', target.container);
  url.searchParams.set('follow', String(options.follow));
  url.searchParams.set('timestamps', String(options.timestamps));
  if (options.sinceSeconds !== undefined) url.searchParams.set('sinceSeconds', String(options.sinceSeconds));
  if (options.tailLines !== undefined) url.searchParams.set('tailLines', String(options.tailLines));
  const requestOptions: RequestOptions = { method: 'GET' };
  await kubeConfig.applyToHTTPSOptions(requestOptions);
  if (signal.aborted) return;

  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(url, requestOptions, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let message = body;
          try {
            message = (JSON.parse(body) as { message?: string }).message ?? body;
          } catch {
            // not a Status object; keep the text
          }
          reject(Object.assign(new Error(`pods/log: HTTP ${status}: ${message}`), { statusCode: status }));
        });
        res.on('error', reject);
        return;
      }
      // Established: a followed log may be quiet for hours.
      req.setTimeout(0);
      let ended = false;
      res.on('data', (chunk: Buffer) => {
        // Backpressure: a slow reader pauses the response, and TCP reaches back to the kubelet.
        forwardChunk(out, chunk, res);
      });
      res.on('end', () => {
        ended = true;
        out.end();
        finished(out).then(resolve, reject);
      });
      res.on('close', () => {
        if (ended) return;
        if (signal.aborted) resolve();
        else reject(connectionLost('logs'));
      });
    });
    const abort = () => {
      req.destroy();
      resolve();
    };
    signal.addEventListener('abort', abort, { once: true });
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error('no answer from the API server'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (error) => {
      if (!signal.aborted) reject(error);
    });
    req.on('close', () => signal.removeEventListener('abort', abort));
    req.end();
  });
}

/**
 * Runs `argv` in the target container over a WebSocket (client-node Exec),
 * with backpressure both ways; resolves with the exit status, rejects when
 * the connection breaks without one, and ends at once when `signal` aborts.
 * A success whose output cannot be confirmed complete (output-completeness.ts)
 * resolves with `outputUnconfirmed`.
 */
export async function execInPod(
  kubeConfig: KubeConfig,
  target: PodTarget,
  argv: string[],
  tty: boolean,
  io: ExecIo,
  signal: AbortSignal,
): Promise<ExecResult> {
  const exec = new Exec(kubeConfig);
  let socket: (PausableSocket & SendingSocket & { close(): void; terminate?(): void }) | undefined;
  let openedAt = Number.POSITIVE_INFINITY;
  // client-node sends what it reads from this; pumpInput fills it once the socket is open.
  const stdin = io.stdin ? new PassThrough() : null;
  const holdback = new OutputHoldback(() => socket);
  const stdout = flowControlled(io.stdout, holdback);
  const stderr = flowControlled(io.stderr, holdback);
  return new Promise<ExecResult>((resolve, reject) => {
    const onAbort = () => {
      endNow(socket);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    exec
      .exec(target.namespace, target.pod, target.container, argv, stdout, stderr, stdin, tty, (status) => {
        signal.removeEventListener('abort', onAbort);
        try {
          const code = exitCodeOf(status);
          const unconfirmed = outputUnconfirmed(code, performance.now() - openedAt, holdback);
          resolve(unconfirmed ? { code, outputUnconfirmed: true } : { code });
        } catch (error) {
          reject(error);
        }
      })
      .then((ws) => {
        socket = ws as unknown as PausableSocket & SendingSocket & { close(): void; terminate?(): void };
        openedAt = performance.now();
        if (io.stdin && stdin) pumpInput(io.stdin, stdin, socket);
        io.onEvent?.('kube.stream_opened');
        ws.once('message', () => io.onEvent?.('kube.first_frame'));
        ws.on('close', () => {
          // A socket closed without a status frame: the connection broke
          // (the API server stopped or the network failed) under a running command.
          setTimeout(() => reject(connectionLost('exec')), 50);
        });
        if (signal.aborted) onAbort();
      }, reject);
  });
}

/**
 * Forwards `input` to the pod's `port` and the pod's bytes to `output` over
 * a WebSocket (client-node PortForward), with backpressure both ways;
 * resolves once every byte from the pod is handed on, rejects when the
 * connection breaks (RFC 6455 abnormal closure), ends when `signal` aborts.
 */
export async function forwardPort(
  kubeConfig: KubeConfig,
  target: PodTarget,
  port: number,
  input: Readable,
  output: Writable,
  signal: AbortSignal,
): Promise<void> {
  const forward = new PortForward(kubeConfig);
  const errors = new PassThrough();
  let socket: (PausableSocket & { close(): void }) | undefined;
  // Like exec: a slow reader pauses the WebSocket instead of growing buffers.
  const flowing = flowControlled(output, { pause: () => socket?.pause(), resume: () => socket?.resume() });
  // And input towards the pod waits while the socket's send queue is full (pumpInput).
  const towardsPod = new PassThrough();
  const ws = (await forward.portForward(
    target.namespace,
    target.pod,
    [port],
    flowing,
    errors,
    towardsPod,
  )) as unknown as PausableSocket &
    SendingSocket & {
      close(): void;
      on(event: 'close', listener: (code: number) => void): void;
    };
  socket = ws;
  pumpInput(input, towardsPod, ws);
  await new Promise<void>((resolve, reject) => {
    const finish = () => {
      endNow(ws);
      resolve();
    };
    signal.addEventListener('abort', finish, { once: true });
    ws.on('close', (code) => {
      signal.removeEventListener('abort', finish);
      // 1006: the connection ended without a WebSocket close frame (RFC 6455
      // section 7.1.5): the API server or the network went away, and whatever
      // the pod sent after the last frame is lost. That is not a clean end.
      if (code === ABNORMAL_CLOSURE && !signal.aborted) reject(connectionLost('port-forward'));
      else resolve();
    });
  });
  // Every byte the pod sent is handed on before the stream is reported done.
  flowing.end();
  await finished(output);
}
