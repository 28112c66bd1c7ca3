import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Pod,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import './cluster-info.js';

export function clusterInfo() {
  return inject('cluster');
}

/** cluster-admin access to the hermetic cluster. */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(clusterInfo().kubeconfigPath);
  return kc;
}

/** May ServiceAccount `namespace/name` do `attributes`? A SubjectAccessReview made by cluster-admin. */
export async function serviceAccountMay(
  namespace: string,
  name: string,
  attributes: V1ResourceAttributes,
): Promise<boolean> {
  const review = await adminKubeConfig()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${namespace}:${name}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: attributes,
        },
      },
    });
  return review.status?.allowed === true;
}

/** A namespace name unique to this test run (namespaces are shared by the cluster). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
}

export interface TestContainer {
  name: string;
  /** Run by the fake kubelet as a local process; its output becomes the container log. */
  command?: string[];
  /** Declared ports get a local port each (FAKE_KUBELET_PORT_<port> in the process env). */
  ports?: number[];
  /** Literal environment variables in the pod spec (what `get`/`describe` must redact). */
  env?: { name: string; value: string }[];
}

/**
 * Creates a pod bound to the fake node and waits until the fake kubelet
 * reports it Running. Retries while the namespace's default ServiceAccount
 * does not exist yet (the ServiceAccount admission plugin needs it).
 */
export async function createRunningPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
  containers: TestContainer[],
  annotations: Record<string, string> = {},
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const body: V1Pod = {
    metadata: { name, annotations },
    spec: {
      nodeName: clusterInfo().nodeName,
      containers: containers.map((c) => ({
        name: c.name,
        image: 'example.invalid/fake:1',
        command: c.command,
        ports: c.ports?.map((containerPort) => ({ containerPort })),
        ...(c.env ? { env: c.env } : {}),
      })),
    },
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await core.createNamespacedPod({ namespace, body });
      break;
    } catch (error) {
      if (attempt > 50 || !String(error).includes('serviceaccount')) throw error;
      await sleep(100);
    }
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const pod = await core.readNamespacedPod({ namespace, name });
    if (pod.status?.phase === 'Running') return pod;
    await sleep(100);
  }
  const kubeletLog = readFileSync(join(clusterInfo().logsDir, 'fake-kubelet.log'), 'utf8')
    .split('\n')
    .slice(-20);
  throw new Error(
    `pod ${namespace}/${name} did not become Running; fake-kubelet log:\n${kubeletLog.join('\n')}`,
  );
}

/** Appends one line to a container's log as the runtime would (CRI format). */
export function appendContainerLog(namespace: string, pod: string, container: string, line: string): void {
  const dir = join(clusterInfo().kubeletStateDir, 'pods', namespace, pod);
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `${container}.log`), `${new Date().toISOString()} stdout F ${line}\n`);
}

/** The seed's oncall-debug Role (pods, pods/log read) bound to a group in one namespace. */
export async function bindOncallDebug(kc: KubeConfig, namespace: string, group: string): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'oncall-debug' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'oncall-debug' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'oncall-debug' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
    },
  });
}

/** The fields of a Kubernetes audit event (audit.k8s.io/v1 Event) the tests read. */
export interface KubeAuditEvent {
  auditID: string;
  verb: string;
  stage: string;
  user?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  impersonatedUser?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** Kubernetes audit events (one JSON object per line), newest last. */
export function readAuditEvents(): KubeAuditEvent[] {
  return readFileSync(clusterInfo().auditLogPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as KubeAuditEvent);
}

/** Polls the audit log until an event matches (events are written after the response). */
export async function waitForAuditEvent(
  match: (event: KubeAuditEvent) => boolean,
  timeoutMs = 10_000,
): Promise<KubeAuditEvent> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = readAuditEvents().find(match);
    if (found) return found;
    await sleep(100);
  }
  throw new Error('no matching Kubernetes audit event');
}
