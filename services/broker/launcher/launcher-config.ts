/**
 * The broker's `launcher` configuration block: which mode the tiers run in.
 * Absent or `mode: "standing"`: the standing mediator and executor
 * Deployments serve every request and the broker launches nothing.
 * `mode: "ephemeral"`: every approved request gets its own mediator and
 * executor pods in `namespace` (docs/architecture.md "Ephemeral mode"),
 * and its mediator presents a host certificate the airlock host CA
 * (`hostCa`) signed for the request id, so clients verify it with
 * `@cert-authority` and never trust on first use. Ephemeral mode without a
 * host CA is a configuration error: the broker does not start.
 */

/** Config `launcher`. */
export type LauncherConfig =
  | { readonly mode: 'standing' }
  | {
      readonly mode: 'ephemeral';
      /** The airlock namespace: where the per-request objects live (the broker's launcher Role is there). */
      readonly namespace: string;
      /** The cluster name (as requests name it) the executors serve; requests for others fail to launch. */
      readonly cluster: string;
      /** The tier images, the same the standing Deployments run. */
      readonly images: { readonly mediator: string; readonly executor: string };
      readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
      /** The broker's launcher credentials; absent: the in-cluster ServiceAccount. */
      readonly kubeconfig?: string;
      /**
       * The airlock host CA (`airlock ca init --kind host`): its private key
       * signs each per-request mediator's host certificate; its public half
       * is published with every user certificate (docs/operations.md "Host CA").
       */
      readonly hostCa: { readonly keyFile: string };
      /** How often the sweep deletes the objects of requests no longer approved-and-live; default 30. */
      readonly sweepSeconds: number;
      /**
       * The audit store (deploy/components/audit-shipping): when set, every
       * per-request pod runs the audit agent (`agentImage`, the OpenTelemetry
       * Collector) as a native sidecar that ships its tier's trail to
       * `endpoint` (OTLP/HTTP), so the trail outlives the pod
       * (tier-audit-agent.ts, docs/audit-shipping.md).
       */
      readonly auditStore?: { readonly endpoint: string; readonly agentImage: string };
    };

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const image = { type: 'string', minLength: 1, maxLength: 512 } as const;

/**
 * JSON Schema of config `launcher`: flat (Ajv applies no defaults inside
 * `oneOf`), the fields ephemeral mode requires are checked by
 * {@link launcherConfigProblems}.
 */
export const LAUNCHER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: {
    mode: { enum: ['standing', 'ephemeral'] },
    namespace: { type: 'string', pattern: DNS_LABEL },
    cluster: { type: 'string', minLength: 1 },
    images: {
      type: 'object',
      additionalProperties: false,
      required: ['mediator', 'executor'],
      properties: { mediator: image, executor: image },
    },
    imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
    kubeconfig: { type: 'string', minLength: 1 },
    hostCa: {
      type: 'object',
      additionalProperties: false,
      required: ['keyFile'],
      properties: { keyFile: { type: 'string', minLength: 1 } },
    },
    sweepSeconds: { type: 'integer', minimum: 5, maximum: 600, default: 30 },
    auditStore: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint', 'agentImage'],
      properties: {
        endpoint: { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 512 },
        agentImage: image,
      },
    },
  },
} as const;

/** `launcher.<field>: problem` lines for what the schema cannot say. */
export function launcherConfigProblems(launcher: LauncherConfig | undefined): string[] {
  if (launcher?.mode !== 'ephemeral') return [];
  const given = launcher as Partial<Extract<LauncherConfig, { mode: 'ephemeral' }>>;
  return (['namespace', 'cluster', 'images', 'hostCa'] as const)
    .filter((field) => given[field] === undefined)
    .map((field) => `launcher.${field}: required in ephemeral mode`);
}

/** The launcher block with its file paths resolved by `from` (relative to the config file). */
export function resolveLauncherPaths(
  launcher: LauncherConfig,
  from: (path: string) => string,
): LauncherConfig {
  if (launcher.mode !== 'ephemeral') return launcher;
  return {
    ...launcher,
    ...(launcher.kubeconfig ? { kubeconfig: from(launcher.kubeconfig) } : {}),
    // Absent only in a config that fails validation (launcherConfigProblems names it).
    ...(launcher.hostCa ? { hostCa: { keyFile: from(launcher.hostCa.keyFile) } } : {}),
  };
}
