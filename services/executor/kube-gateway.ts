/**
 * The executor's one way to the Kubernetes API (Teleport's lib/kube/proxy
 * layout, by concern): the port stages call (this file), the streams
 * (kube-streams.ts), errors (kube-errors.ts) and spans (kube-spans.ts).
 */
import type { Readable, Writable } from 'node:stream';
import type { CoreV1Api } from '@kubernetes/client-node';
import { AirlockError } from '../core/errors.js';
import { kubeError } from './kube-errors.js';
import { execInPod, forwardPort, streamPodLog } from './kube-streams.js';
import type { ExecIo, ExecResult, KubeCaller, KubeClients, ObjectKind, PodTarget } from './kube-types.js';

export type {
  ExecIo,
  ExecResult,
  KubeCaller,
  KubeClients,
  KubeStreamEvent,
  ObjectKind,
  PodTarget,
} from './kube-types.js';

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

/** One object by kind and name (namespace: '' for cluster-scoped kinds). */
function readObject(
  clients: KubeClients,
  kind: ObjectKind,
  namespace: string,
  name: string,
): Promise<unknown> {
  const core = () => clients.core();
  const apps = () => clients.apps();
  switch (kind) {
    case 'pods':
      return core().readNamespacedPod({ namespace, name });
    case 'events':
      return core().readNamespacedEvent({ namespace, name });
    case 'deployments':
      return apps().readNamespacedDeployment({ namespace, name });
    case 'replicasets':
      return apps().readNamespacedReplicaSet({ namespace, name });
    case 'nodes':
      return core().readNode({ name });
    case 'namespaces':
      return core().readNamespace({ name });
  }
}

/** Every object of a kind (in `namespace`, unless cluster-scoped). */
function listObjects(clients: KubeClients, kind: ObjectKind, namespace: string): Promise<unknown> {
  const core = () => clients.core();
  const apps = () => clients.apps();
  switch (kind) {
    case 'pods':
      return core().listNamespacedPod({ namespace });
    case 'events':
      return core().listNamespacedEvent({ namespace });
    case 'deployments':
      return apps().listNamespacedDeployment({ namespace });
    case 'replicasets':
      return apps().listNamespacedReplicaSet({ namespace });
    case 'nodes':
      return core().listNode();
    case 'namespaces':
      return core().listNamespace();
  }
}

/** Adds an ephemeral container to the pod (read, append, replace the ephemeralcontainers subresource). */
async function addEphemeral(
  api: CoreV1Api,
  target: Pick<PodTarget, 'namespace' | 'pod'>,
  container: Parameters<KubeGateway['addEphemeralContainer']>[1],
): Promise<void> {
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
}

/**
 * The client-node implementation. It holds no credentials of its own: every
 * call uses the clients its caller brings (kube-credentials.ts).
 */
export function createKubeGateway(options: KubeGatewayOptions = {}): KubeGateway {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const core = (as: KubeCaller) => as.clients.core();
  const streaming = (as: KubeCaller) => as.clients.streaming;

  return {
    async exec(target, argv, tty, io, as, signal) {
      try {
        return await execInPod(streaming(as), target, argv, tty, io, signal);
      } catch (error) {
        throw kubeError(error, as, `create pods/exec in namespace ${target.namespace}`);
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
      try {
        await forwardPort(streaming(as), target, port, input, output, signal);
      } catch (error) {
        throw kubeError(error, as, `create pods/portforward in namespace ${target.namespace}`);
      }
    },

    async get(kind, namespace, name, as) {
      const what = `get ${kind} ${name}${namespace ? ` in namespace ${namespace}` : ''}`;
      try {
        return await readObject(as.clients, kind, namespace, name);
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async list(kind, namespace, as) {
      const what = `list ${kind}${namespace ? ` in namespace ${namespace}` : ''}`;
      try {
        return await listObjects(as.clients, kind, namespace);
      } catch (error) {
        throw kubeError(error, as, what);
      }
    },

    async addEphemeralContainer(target, container, as) {
      const what = `update pods/ephemeralcontainers in namespace ${target.namespace}`;
      try {
        await addEphemeral(core(as), target, container);
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
