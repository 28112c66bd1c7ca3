/**
 * The Pod and Service of each tier of one request: the standing Deployments'
 * pod templates (deploy/components/standing-tiers/mediator.yaml, executor.yaml) as single pods,
 * under Pod Security `restricted` (non-root, no privilege escalation, every
 * capability dropped, RuntimeDefault seccomp, read-only root file system),
 * with `activeDeadlineSeconds` = the request's remaining access so the
 * kubelet stops them at expiry even when the broker is down.
 *
 * The executor's only Kubernetes credential is a projected ServiceAccount
 * token of its per-request ServiceAccount, bound to this pod (it dies with
 * the pod) and expiring after at most an hour (the kubelet renews it while
 * the pod runs). The mediator gets no token at all.
 *
 * Pure: no I/O.
 */
import type { V1Container, V1Pod, V1SecurityContext, V1Service, V1Volume } from '@kubernetes/client-node';
import {
  type EphemeralTier,
  EXECUTOR_GRPC_PORT,
  type LaunchNames,
  launchLabels,
  MEDIATOR_SSH_PORT,
  podSelector,
} from './launch-names.js';
import { type AuditAgentOptions, auditAgentContainer, auditAgentVolume } from './tier-audit-agent.js';
import { MOUNTS } from './tier-configs.js';

/** Shared objects of the standing deployment both modes mount (deploy/base). */
export const SHARED_OBJECTS = {
  policyConfigMap: 'airlock-policy',
  sshUserCaConfigMap: 'airlock-ssh-user-ca',
  revocationConfigMap: 'airlock-revocation',
  auditKeySecret: { mediator: 'airlock-mediator-audit-key', executor: 'airlock-executor-audit-key' },
} as const;

/** What a pod of one request needs to know. */
export interface TierPodOptions {
  readonly names: LaunchNames;
  readonly image: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The request's remaining access in whole seconds (≥ 1). */
  readonly activeDeadlineSeconds: number;
  /** With an audit store: the audit agent as a native sidecar (tier-audit-agent.ts). */
  readonly auditAgent?: AuditAgentOptions;
}

/** Kubernetes' floor and airlock's ceiling for the bound token's lifetime. */
const TOKEN_SECONDS = { min: 600, max: 3600 } as const;

/** Pod Security `restricted`, container level (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
function restrictedContainer(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function volumes(tier: EphemeralTier, names: LaunchNames, tokenSeconds: number): V1Volume[] {
  const list: V1Volume[] = [
    {
      name: 'config',
      configMap: { name: names.owner, items: [{ key: `${tier}.json`, path: 'config.json' }] },
    },
    { name: 'policy', configMap: { name: SHARED_OBJECTS.policyConfigMap } },
    { name: 'ssh-ca', configMap: { name: SHARED_OBJECTS.sshUserCaConfigMap } },
    { name: 'revocation', configMap: { name: SHARED_OBJECTS.revocationConfigMap } },
    { name: 'audit-key', secret: { secretName: SHARED_OBJECTS.auditKeySecret[tier], defaultMode: 0o400 } },
    { name: 'tls', secret: { secretName: names.secret[tier], defaultMode: 0o400 } },
    { name: 'state', emptyDir: {} },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  if (tier === 'executor') {
    // What the in-cluster client reads, as the ServiceAccount admission plugin would mount it, but bound and short.
    list.push({
      name: 'kube-api-access',
      projected: {
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: tokenSeconds } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    });
  }
  return list;
}

function container(tier: EphemeralTier, options: TierPodOptions): V1Container {
  const port =
    tier === 'mediator'
      ? { name: 'ssh', port: MEDIATOR_SSH_PORT }
      : { name: 'grpc', port: EXECUTOR_GRPC_PORT };
  const mounts: [string, string, boolean][] = [
    ['config', MOUNTS.config, true],
    ['policy', MOUNTS.policy, true],
    ['ssh-ca', MOUNTS.sshCa, true],
    ['revocation', MOUNTS.revocation, true],
    ['audit-key', MOUNTS.auditKey, true],
    ['tls', MOUNTS.tls, true],
    ['state', MOUNTS.state, false],
    ['tmp', MOUNTS.tmp, false],
  ];
  if (tier === 'executor')
    mounts.push(['kube-api-access', '/var/run/secrets/kubernetes.io/serviceaccount', true]);
  return {
    name: tier,
    image: options.image,
    ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
    args: [`dist/services/${tier}/main.js`, '--config', `${MOUNTS.config}/config.json`],
    ports: [
      { name: port.name, containerPort: port.port },
      { name: 'ops', containerPort: 9464 },
    ],
    securityContext: restrictedContainer(),
    readinessProbe: { httpGet: { path: '/readyz', port: 'ops' }, periodSeconds: 2 },
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '384Mi' } },
    volumeMounts: mounts.map(([name, mountPath, readOnly]) => ({ name, mountPath, readOnly })),
  };
}

/** The pod of `tier` for one request; owned by the request's owner ConfigMap (its uid). */
export function tierPod(tier: EphemeralTier, options: TierPodOptions): V1Pod {
  const { names } = options;
  const tokenSeconds = Math.min(
    TOKEN_SECONDS.max,
    Math.max(TOKEN_SECONDS.min, options.activeDeadlineSeconds),
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: names.tier[tier], labels: launchLabels(names.requestId, tier) },
    spec: {
      serviceAccountName: names.tier[tier],
      // Never the automatic token: the executor's is the bound projection above, the mediator has none.
      automountServiceAccountToken: false,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      restartPolicy: 'Always',
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(options.auditAgent
        ? { initContainers: [auditAgentContainer(options.auditAgent, restrictedContainer())] }
        : {}),
      containers: [container(tier, options)],
      volumes: [...volumes(tier, names, tokenSeconds), ...(options.auditAgent ? [auditAgentVolume()] : [])],
    },
  };
}

/** The Service in front of a tier's pod; the mediator's port is named `ssh` (the door dials it). */
export function tierService(tier: EphemeralTier, names: LaunchNames): V1Service {
  const port =
    tier === 'mediator'
      ? { name: 'ssh', port: MEDIATOR_SSH_PORT, targetPort: 'ssh' }
      : { name: 'grpc', port: EXECUTOR_GRPC_PORT, targetPort: 'grpc' };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: names.tier[tier], labels: launchLabels(names.requestId, tier) },
    spec: {
      selector: podSelector(names.requestId, tier),
      ports: [{ ...port, protocol: 'TCP' }],
    },
  };
}
