/**
 * The audit agent of one per-request pod (config `launcher.auditStore`): the
 * OpenTelemetry Collector that deploy/components/audit-shipping runs beside
 * the standing tiers (same image, same agent config, same environment),
 * here as a Kubernetes native sidecar — an init container with
 * `restartPolicy: Always` (KEP-753, on by default since 1.29). It starts
 * before the tier and, when the pod is deleted or reaches its deadline, is
 * stopped only after the tier has exited, so it can still ship the tier's
 * last lines and its close checkpoint: the pod's trail outlives the pod.
 *
 * It reads the tier's state volume (the trail at `<state>/audit`, its own
 * offsets and send queue at `<state>/otelcol`) and the audit-shipping
 * component's ConfigMap `airlock-otelcol-config` (key `agent.yaml`), mounted
 * by name. Its trail origin (how the store and `airlock audit collect` file
 * the lines) is `<pod name>-<pod uid>`.
 *
 * Pure: no I/O.
 */
import type { V1Container, V1Volume } from '@kubernetes/client-node';
import { MOUNTS } from './tier-configs.js';

/** What a pod needs to ship its trail (`launcher.auditStore`). */
export interface AuditAgentOptions {
  readonly image: string;
  /** The store's OTLP/HTTP base URL, e.g. http://airlock-audit-store.airlock-system.svc:4318. */
  readonly storeEndpoint: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

/** The audit-shipping component's collector configs (agent.yaml, store.yaml). */
export const OTELCOL_CONFIG_MAP = 'airlock-otelcol-config';
const CONFIG_DIR = '/etc/otelcol';

/** The volume holding the agent's config. */
export function auditAgentVolume(): V1Volume {
  return { name: 'otelcol-config', configMap: { name: OTELCOL_CONFIG_MAP } };
}

/** The agent's native sidecar container; `securityContext` as the tier's (Pod Security `restricted`). */
export function auditAgentContainer(
  agent: AuditAgentOptions,
  securityContext: V1Container['securityContext'],
): V1Container {
  return {
    name: 'audit-agent',
    image: agent.image,
    ...(agent.imagePullPolicy ? { imagePullPolicy: agent.imagePullPolicy } : {}),
    // Native sidecar: runs for the pod's whole life, stopped after the tier container.
    restartPolicy: 'Always',
    args: ['--config', `file:${CONFIG_DIR}/agent.yaml`],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      // Each pod's trail is its own chain, filed under it by the store. A replaced pod has the
      // name of the one before it (kube-tier-pods.ts) and a fresh trail: the uid tells them apart.
      { name: 'AIRLOCK_TRAIL_ORIGIN', value: '$(POD_NAME)-$(POD_UID)' },
      { name: 'AIRLOCK_AUDIT_DIR', value: `${MOUNTS.state}/audit` },
      { name: 'OTELCOL_STATE_DIR', value: `${MOUNTS.state}/otelcol` },
      { name: 'AIRLOCK_AUDIT_STORE_ENDPOINT', value: agent.storeEndpoint },
    ],
    securityContext,
    resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [
      { name: 'otelcol-config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'state', mountPath: MOUNTS.state },
    ],
  };
}
