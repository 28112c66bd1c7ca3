import { PassThrough, type Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  type KubeConfig,
  Log,
  PortForward,
  type V1Status,
} from '@kubernetes/client-node';
import { type Attributes, type Context, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import { AirlockError } from '../core/errors.js';
import { endSpan } from '../core/telemetry.js';
import {
  ImpersonatingKubeConfig,
  type Impersonation,
  impersonatingConfiguration,
} from './kube-impersonation.js';

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
 * The executor's port to Kubernetes. Every call acts as the given
 * impersonation; the gateway never decides what is allowed (the policy and
 * RBAC do). A call returns once the Kubernetes side has finished; the
 * `signal` aborts it (streams are then closed).
 */
export interface KubeGateway {
  exec(
    target: PodTarget,
    argv: string[],
    tty: boolean,
    io: ExecIo,
    as: Impersonation,
    signal: AbortSignal,
  ): Promise<ExecResult>;
  logs(
    target: PodTarget,
    options: { follow: boolean; sinceSeconds?: number; tailLines?: number; timestamps: boolean },
    out: Writable,
    as: Impersonation,
    signal: AbortSignal,
  ): Promise<void>;
  /** Connects one TCP stream to a pod port. Resolves when both directions have ended. */
  portForward(
    target: PodTarget,
    port: number,
    input: Readable,
    output: Writable,
    as: Impersonation,
    signal: AbortSignal,
  ): Promise<void>;
  get(kind: ObjectKind, namespace: string, name: string, as: Impersonation): Promise<unknown>;
  list(kind: ObjectKind, namespace: string, as: Impersonation): Promise<unknown>;
  addEphemeralContainer(
    target: Omit<PodTarget, 'container'>,
    container: { name: string; image: string; command: string[]; tty: boolean; targetContainer?: string },
    as: Impersonation,
  ): Promise<void>;
  /** The pod's first container, used when a target names none. */
  defaultContainer(namespace: string, pod: string, as: Impersonation): Promise<string>;
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

/** Turns a Kubernetes API failure into an airlock error with a readable reason. */
export function kubeError(error: unknown, as: Impersonation, what: string): AirlockError {
  if (error instanceof AirlockError) return error;
  const status = httpStatusOf(error);
  const person = as.extra['airlock.dev/user']?.[0] ?? as.user;
  if (status === 403) {
    return new AirlockError(
      'RBAC_DENIED',
      `user ${person} (groups ${as.groups.join(', ') || 'none'}) cannot ${what}`,
      { cause: error },
    );
  }
  if (status === 404) return new AirlockError('KUBERNETES_NOT_FOUND', `not found: ${what}`, { cause: error });
  return new AirlockError('KUBERNETES_ERROR', `the Kubernetes API failed to ${what}`, {
    detail: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

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
 * The client-node implementation. Streaming calls (exec, logs,
 * port-forward) go through an ImpersonatingKubeConfig so each group and
 * extra value is its own header line; the generated API clients use an
 * impersonating HTTP library for the same reason.
 */
export function createKubeGateway(kubeConfig: KubeConfig): KubeGateway {
  const core = (as: Impersonation) => new CoreV1Api(impersonatingConfiguration(kubeConfig, as));
  const apps = (as: Impersonation) => new AppsV1Api(impersonatingConfiguration(kubeConfig, as));
  const streaming = (as: Impersonation) => new ImpersonatingKubeConfig(kubeConfig, as);

  return {
    async exec(target, argv, tty, io, as, signal) {
      const what = `create pods/exec in namespace ${target.namespace}`;
      const exec = new Exec(streaming(as));
      let socket: (PausableSocket & { close(): void; terminate?(): void }) | undefined;
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
              io.stdin,
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
              socket = ws as unknown as PausableSocket & { close(): void; terminate?(): void };
              io.onEvent?.('kube.stream_opened');
              ws.once('message', () => io.onEvent?.('kube.first_frame'));
              ws.on('close', () => {
                // A socket closed without a status frame: the stream broke.
                setTimeout(
                  () =>
                    reject(new AirlockError('KUBERNETES_ERROR', 'the exec stream closed without a status')),
                  50,
                );
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
      const log = new Log(streaming(as));
      try {
        const done = new Promise<void>((resolve, reject) => {
          out.on('finish', resolve);
          out.on('error', reject);
        });
        const controller = await log.log(target.namespace, target.pod, target.container, out, {
          follow: options.follow,
          sinceSeconds: options.sinceSeconds,
          tailLines: options.tailLines,
          timestamps: options.timestamps,
        });
        const abort = () => controller.abort();
        signal.addEventListener('abort', abort, { once: true });
        await done;
        signal.removeEventListener('abort', abort);
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
      try {
        const ws = (await forward.portForward(
          target.namespace,
          target.pod,
          [port],
          flowing,
          errors,
          input,
        )) as unknown as PausableSocket & {
          close(): void;
          on(event: 'close', listener: () => void): void;
        };
        socket = ws;
        await new Promise<void>((resolve) => {
          const finish = () => {
            endNow(ws);
            resolve();
          };
          signal.addEventListener('abort', finish, { once: true });
          ws.on('close', () => {
            signal.removeEventListener('abort', finish);
            resolve();
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
