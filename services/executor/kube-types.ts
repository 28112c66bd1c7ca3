/**
 * The types the Kubernetes gateway and its stream and error halves share
 * (kube-gateway.ts re-exports them), in a file of their own so that those
 * files import it and not each other.
 */
import type { Readable, Writable } from 'node:stream';
import type { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

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
  /**
   * Kubernetes reported success, but the output cannot be confirmed
   * complete (output-completeness.ts): the executor reports OUTPUT_INCOMPLETE.
   */
  outputUnconfirmed?: true;
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
