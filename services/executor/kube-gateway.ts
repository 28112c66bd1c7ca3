import { request as httpsRequest, type RequestOptions } from 'node:https';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  ApiException,
  type AppsV1Api,
  type CoreV1Api,
  Exec,
  type KubeConfig,
  PortForward,
  type V1Status,
} from '@kubernetes/client-node';
import { type Attributes, type Context, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import { AirlockError } from '../core/errors.js';
import { endSpan } from '../core/telemetry.js';

export interface PodTarget {
  namespace: string;
  pod: string;
  container: string;
}

/**
 * Milestones of an exec stream, reported for its span (the latency phase
 * breakdown): the WebSocket upgrade has completed, and the first frame from
 * the kubelet (output or the exit status) has arrived.
 */
export type KubeStreamEvent = 'kube.stream_opened' | 'kube.first_frame';

export interface ExecIo {
  /** Closed (ended) by the caller when the client sends stdin EOF. Null: no stdin. */
  stdin: Readable | null;
  stdout: Writable;
  stderr: Writable;
  /** Terminal sizes for a tty session; the gateway forwards each as a resize. */
  resize?: Readable;
  /** Called once per milestone, in order; optional (withKubeSpans records them as span events). */
  onEvent?(event: KubeStreamEvent): void;
}

export interface ExecResult {
  code: number;
}

/** What the executor may read; everything is namespaced except nodes and namespaces. */
export type ObjectKind = 'pods' | 'events' | 'deployments' | 'replicasets' | 'nodes' | 'namespaces';

/**
 * Clients that reach the Kubernetes API as one session (kube-credentials.ts
 * makes them: impersonating, or with the session's own client certificate).
 */
export interface KubeClients {
  /** Generated API client for core/v1 (pods, events, nodes, namespaces). */
  core(): CoreV1Api;
  /** Generated API client for apps/v1 (deployments, replicasets). */
  apps(): AppsV1Api;
  /** For client-node's Exec, Log and PortForward (WebSocket and fetch). */
  readonly streaming: KubeConfig;
}

/** Who a Kubernetes call is made for, and the clients that act as them. */
export interface KubeCaller {
  /** The person (SSH principal), for readable errors. */
  readonly user: string;
  /** The session's `jit:` groups, for readable errors. */
  readonly groups: readonly string[];
  readonly clients: KubeClients;
}

/**
 * The executor's port to Kubernetes. Every call acts as the given caller's
 * clients; the gateway never decides what is allowed (the policy and RBAC
 * do). A call returns once the Kubernetes side has finished; the `signal`
 * aborts it (streams are then closed).
 */
export interface KubeGateway {
  exec(
    target: PodTarget,
    argv: string[],
    tty: boolean,
    io: ExecIo,
    as: KubeCaller,
    signal: AbortSignal,
  ): Promise<ExecResult>;
  logs(
    target: PodTarget,
    options: { follow: boolean; sinceSeconds?: number; tailLines?: number; timestamps: boolean },
    out: Writable,
    as: KubeCaller,
    signal: AbortSignal,
  ): Promise<void>;
  /** Connects one TCP stream to a pod port. Resolves when both directions have ended. */
  portForward(
    target: PodTarget,
    port: number,
    input: Readable,
    output: Writable,
    as: KubeCaller,
    signal: AbortSignal,
  ): Promise<void>;
  get(kind: ObjectKind, namespace: string, name: string, as: KubeCaller): Promise<unknown>;
  list(kind: ObjectKind, namespace: string, as: KubeCaller): Promise<unknown>;
  addEphemeralContainer(
    target: Omit<PodTarget, 'container'>,
    container: { name: string; image: string; command: string[]; tty: boolean; targetContainer?: string },
    as: KubeCaller,
  ): Promise<void>;
  /** The pod's first container, used when a target names none. */
  defaultContainer(namespace: string, pod: string, as: KubeCaller): Promise<string>;
}

/**
 * The HTTP status of a failed Kubernetes call: generated clients throw
 * ApiException; the WebSocket upgrade (exec, port-forward) fails with
 * "Unexpected server response: 403"; the log stream throws with statusCode.
 */
function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') return statusCode;
  // The WebSocket rejects with an ErrorEvent (not an Error) carrying `message`.
  const message = (error as { message?: unknown } | null)?.message;
  const match = /Unexpected server response: (\d{3})/.exec(
    typeof message === 'string' ? message : String(error),
  );
  return match ? Number(match[1]) : undefined;
}

/** Socket-level failures: the API server is down, restarting or unreachable. */
const CONNECTION_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * True when `error` (or an error it wraps) says the API server could not be
 * reached or the connection broke, rather than that the API answered with
 * an error. Node errors carry `code`; the WebSocket's ErrorEvent wraps one
 * in `error`; ws reports a handshake timeout only as a message.
 */
export function isConnectionFailure(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_FAILURE_CODES.has(code)) return true;
    if (typeof message === 'string' && /socket hang up|handshake has timed out/i.test(message)) return true;
    e = (e as { cause?: unknown; error?: unknown }).cause ?? (e as { error?: unknown }).error;
  }
  return false;
}

/** The Kubernetes API could not be reached for `what`. */
export function kubeUnavailable(what: string, cause?: unknown): AirlockError {
  return new AirlockError('KUBERNETES_UNAVAILABLE', `the Kubernetes API is unavailable: cannot ${what}`, {
    detail: cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause),
    cause,
  });
}

/** A stream's connection to the API server broke before the stream ended. */
function connectionLost(what: string): AirlockError {
  return new AirlockError(
    'KUBERNETES_UNAVAILABLE',
    `the connection to the Kubernetes API was lost during ${what}`,
  );
}

/** Turns a Kubernetes API failure into an airlock error with a readable reason. */
export function kubeError(error: unknown, as: KubeCaller, what: string): AirlockError {
  if (error instanceof AirlockError) return error;
  if (isConnectionFailure(error)) return kubeUnavailable(what, error);
  const status = httpStatusOf(error);
  if (status === 403) {
    return new AirlockError(
      'RBAC_DENIED',
      `user ${as.user} (groups ${as.groups.join(', ') || 'none'}) cannot ${what}`,
      { cause: error },
    );
  }
  if (status === 404) return new AirlockError('KUBERNETES_NOT_FOUND', `not found: ${what}`, { cause: error });
  return new AirlockError('KUBERNETES_ERROR', `the Kubernetes API failed to ${what}`, {
    detail: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

/** RFC 6455 section 7.1.5: the connection closed without a close frame. */
const ABNORMAL_CLOSURE = 1006;

interface PausableSocket {
  pause(): void;
  resume(): void;
}

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
function flowControlled(target: Writable, socket: () => PausableSocket | undefined): Writable {
  const proxy = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!target.write(chunk)) {
        const ws = socket();
        ws?.pause();
        target.once('drain', () => ws?.resume());
      }
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
/** How often waiting input looks at the send queue again: ws has no drain event. */
const INPUT_POLL_MS = 5;
/** WebSocket readyState OPEN (the WHATWG WebSocket interface, which ws follows). */
const WS_OPEN = 1;

interface SendingSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
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
  const waitForRoom = () => {
    if (mustWait()) setTimeout(waitForRoom, INPUT_POLL_MS);
    else source.resume();
  };
  source.on('data', (chunk: Buffer) => {
    into.write(chunk);
    if (mustWait()) {
      source.pause();
      setTimeout(waitForRoom, INPUT_POLL_MS);
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

/** How long a Kubernetes call may wait for the API server before it fails with KUBERNETES_UNAVAILABLE. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

export interface KubeGatewayOptions {
  /**
   * Bound on waiting for the API server: a plain call fails when its socket
   * is idle this long, a stream when it is not established (WebSocket
   * upgrade, log response headers) within it. An established stream may be
   * quiet for as long as it likes. Default DEFAULT_REQUEST_TIMEOUT_MS.
   */
  requestTimeoutMs?: number;
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
async function streamPodLog(
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
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
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
 * The client-node implementation. It holds no credentials of its own: every
 * call uses the clients its caller brings (kube-credentials.ts).
 */
export function createKubeGateway(options: KubeGatewayOptions = {}): KubeGateway {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const core = (as: KubeCaller) => as.clients.core();
  const apps = (as: KubeCaller) => as.clients.apps();
  const streaming = (as: KubeCaller) => as.clients.streaming;

  return {
    async exec(target, argv, tty, io, as, signal) {
      const what = `create pods/exec in namespace ${target.namespace}`;
      const exec = new Exec(streaming(as));
      let socket: (PausableSocket & SendingSocket & { close(): void; terminate?(): void }) | undefined;
      // client-node sends what it reads from this; pumpInput fills it once the socket is open.
      const stdin = io.stdin ? new PassThrough() : null;
      const stdout = flowControlled(io.stdout, () => socket);
      const stderr = flowControlled(io.stderr, () => socket);
      try {
        return await new Promise<ExecResult>((resolve, reject) => {
          const onAbort = () => {
            endNow(socket);
            reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
          exec
            .exec(
              target.namespace,
              target.pod,
              target.container,
              argv,
              stdout,
              stderr,
              stdin,
              tty,
              (status) => {
                signal.removeEventListener('abort', onAbort);
                try {
                  resolve({ code: exitCodeOf(status) });
                } catch (error) {
                  reject(error);
                }
              },
            )
            .then((ws) => {
              socket = ws as unknown as PausableSocket &
                SendingSocket & { close(): void; terminate?(): void };
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
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async logs(target, options, out, as, signal) {
      const what = `get pods/log in namespace ${target.namespace}`;
      try {
        await streamPodLog(streaming(as), target, options, out, signal, requestTimeoutMs);
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async portForward(target, port, input, output, as, signal) {
      const what = `create pods/portforward in namespace ${target.namespace}`;
      const forward = new PortForward(streaming(as));
      const errors = new PassThrough();
      let socket: (PausableSocket & { close(): void }) | undefined;
      // Like exec: a slow reader pauses the WebSocket instead of growing buffers.
      const flowing = flowControlled(output, () => socket);
      // And input towards the pod waits while the socket's send queue is full (pumpInput).
      const towardsPod = new PassThrough();
      try {
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
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async get(kind, namespace, name, as) {
      const what = `get ${kind} ${name}${namespace ? ` in namespace ${namespace}` : ''}`;
      try {
        switch (kind) {
          case 'pods':
            return await core(as).readNamespacedPod({ namespace, name });
          case 'events':
            return await core(as).readNamespacedEvent({ namespace, name });
          case 'deployments':
            return await apps(as).readNamespacedDeployment({ namespace, name });
          case 'replicasets':
            return await apps(as).readNamespacedReplicaSet({ namespace, name });
          case 'nodes':
            return await core(as).readNode({ name });
          case 'namespaces':
            return await core(as).readNamespace({ name });
        }
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async list(kind, namespace, as) {
      const what = `list ${kind}${namespace ? ` in namespace ${namespace}` : ''}`;
      try {
        switch (kind) {
          case 'pods':
            return await core(as).listNamespacedPod({ namespace });
          case 'events':
            return await core(as).listNamespacedEvent({ namespace });
          case 'deployments':
            return await apps(as).listNamespacedDeployment({ namespace });
          case 'replicasets':
            return await apps(as).listNamespacedReplicaSet({ namespace });
          case 'nodes':
            return await core(as).listNode();
          case 'namespaces':
            return await core(as).listNamespace();
        }
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async addEphemeralContainer(target, container, as) {
      const what = `update pods/ephemeralcontainers in namespace ${target.namespace}`;
      try {
        const api = core(as);
        const pod = await api.readNamespacedPod({ namespace: target.namespace, name: target.pod });
        pod.spec = pod.spec ?? { containers: [] };
        pod.spec.ephemeralContainers = [
          ...(pod.spec.ephemeralContainers ?? []),
          {
            name: container.name,
            image: container.image,
            command: container.command,
            stdin: true,
            tty: container.tty,
            targetContainerName: container.targetContainer,
          },
        ];
        await api.replaceNamespacedPodEphemeralcontainers({
          namespace: target.namespace,
          name: target.pod,
          body: pod,
        });
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async defaultContainer(namespace, pod, as) {
      try {
        const found = await core(as).readNamespacedPod({ namespace, name: pod });
        const first = found.spec?.containers[0]?.name;
        if (!first)
          throw new AirlockError('KUBERNETES_NOT_FOUND', `pod ${namespace}/${pod} has no container`);
        return first;
      } catch (error) {
        throw kubeError(error, as, `get pods ${pod} in namespace ${namespace}`);
      }
    },
  };
}

/**
 * `gateway` with a client span around every Kubernetes call, each a child of
 * `parent` (the executor's RPC span): kube.exec, kube.logs, kube.portforward,
 * kube.get, kube.list, kube.ephemeralcontainers, and kube.get for the
 * default-container lookup. A failed call's span carries the airlock code.
 * Streaming calls' spans last until the stream has ended.
 */
export function withKubeSpans(gateway: KubeGateway, tracer: Tracer, parent: Context): KubeGateway {
  async function traced<T>(
    name: string,
    attributes: Attributes,
    call: (span: Span) => Promise<T>,
  ): Promise<T> {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    try {
      const result = await call(span);
      endSpan(span);
      return result;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }
  const pod = (target: { namespace: string; pod: string; container?: string }, resource: string) => ({
    'k8s.namespace.name': target.namespace,
    'k8s.pod.name': target.pod,
    ...(target.container ? { 'k8s.container.name': target.container } : {}),
    'airlock.kube.resource': resource,
  });
  return {
    exec: (target, argv, tty, io, as, signal) =>
      traced('kube.exec', { ...pod(target, 'pods/exec'), 'airlock.tty': tty }, (span) =>
        gateway.exec(
          target,
          argv,
          tty,
          {
            ...io,
            onEvent: (event) => {
              span.addEvent(event);
              io.onEvent?.(event);
            },
          },
          as,
          signal,
        ),
      ),
    logs: (target, options, out, as, signal) =>
      traced('kube.logs', { ...pod(target, 'pods/log'), 'airlock.follow': options.follow }, () =>
        gateway.logs(target, options, out, as, signal),
      ),
    portForward: (target, port, input, output, as, signal) =>
      traced('kube.portforward', { ...pod(target, 'pods/portforward'), 'airlock.port': port }, () =>
        gateway.portForward(target, port, input, output, as, signal),
      ),
    get: (kind, namespace, name, as) =>
      traced(
        'kube.get',
        { ...(namespace ? { 'k8s.namespace.name': namespace } : {}), 'airlock.kube.resource': kind },
        () => gateway.get(kind, namespace, name, as),
      ),
    list: (kind, namespace, as) =>
      traced(
        'kube.list',
        { ...(namespace ? { 'k8s.namespace.name': namespace } : {}), 'airlock.kube.resource': kind },
        () => gateway.list(kind, namespace, as),
      ),
    addEphemeralContainer: (target, container, as) =>
      traced(
        'kube.ephemeralcontainers',
        { ...pod(target, 'pods/ephemeralcontainers'), 'k8s.container.name': container.name },
        () => gateway.addEphemeralContainer(target, container, as),
      ),
    defaultContainer: (namespace, podName, as) =>
      traced('kube.get', pod({ namespace, pod: podName }, 'pods'), () =>
        gateway.defaultContainer(namespace, podName, as),
      ),
  };
}
