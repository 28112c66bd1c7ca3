/**
 * What the ephemeral-mode pods stack (ephemeral-pods-stack.ts) adds to the
 * standing one's keys and objects: the airlock host CA and the door's keys
 * as the Secrets deploy/overlays/dev-ephemeral names; a policy with a second
 * team (billing) so two people hold requests for two namespaces; the RBAC
 * for both namespaces (the executors' templates and the broker's launcher
 * rights, rendered as deploy/README.md says to when the namespaces change);
 * and the state directory's overlay on top of deploy/overlays/dev-ephemeral.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import {
  executorRules,
  jitGroupNames,
  loadPolicy,
  type RbacRule,
  renderRbac,
} from '../../../core/policy/index.js';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { loadOrCreateHostKey } from '../../../core/ssh-cert/host-key.js';
import { nodeBrokerConfig } from './node-identity.js';
import { AIRLOCK_NAMESPACE, type Kubectl } from './pods-objects.js';
import { hostPathVolume } from './pods-overlay.js';

/** The two people of the test: one on-call engineer per team, each with their own namespace. */
export const EPHEMERAL_PEOPLE = {
  oncall: { idpGroup: 'idp:payments-oncall', airlockGroup: 'payments-oncall' },
  biller: { idpGroup: 'idp:billing-oncall', airlockGroup: 'billing-oncall' },
} as const;
export type EphemeralPerson = keyof typeof EPHEMERAL_PEOPLE;

/** The namespaces airlock serves here (executor Roles, launcher rights). */
export const SERVED_NAMESPACES = ['payments', 'billing'] as const;

export interface EphemeralKeyFiles {
  /** The airlock host CA's private key (OpenSSH), and its public line. */
  hostCaKey: string;
  hostCaLine: string;
  doorHostKey: string;
  doorHostKeyLine: string;
  /** The door's audit signing key (PKCS#8) with its public key beside it (`door-audit.pub`). */
  doorAuditKey: string;
}

/** The host CA, the door's host key and audit key, made once in `dir` (next to ensureTierKeys' keys). */
export function ensureEphemeralKeys(dir: string): EphemeralKeyFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostCaKey = join(dir, 'airlock_host_ca');
  const doorHostKey = join(dir, 'door_ssh_host_ed25519_key');
  const doorAuditKey = join(dir, 'door-audit.key');
  if (!existsSync(doorAuditKey)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(doorAuditKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
      mode: 0o600,
    });
    writeFileSync(
      join(dir, 'door-audit.pub'),
      createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    );
  }
  return {
    hostCaKey,
    hostCaLine: loadOrCreateHostKey(hostCaKey).publicKeyLine,
    doorHostKey,
    doorHostKeyLine: loadOrCreateHostKey(doorHostKey).publicKeyLine,
    doorAuditKey,
  };
}

/** The Secrets deploy/overlays/dev-ephemeral expects besides deploy/base's (createTierSecrets). */
export function createEphemeralSecrets(kubectl: Kubectl, keys: EphemeralKeyFiles): void {
  const secret = (name: string, from: string) =>
    kubectl('create', 'secret', 'generic', name, '-n', AIRLOCK_NAMESPACE, `--from-file=${from}`);
  secret('airlock-host-ca-key', `airlock_host_ca=${keys.hostCaKey}`);
  secret('airlock-door-host-key', `ssh_host_ed25519_key=${keys.doorHostKey}`);
  secret('airlock-door-audit-key', `audit.key=${keys.doorAuditKey}`);
}

/**
 * deploy/base's policy plus `billing-debug`: oncall-debug's actions and
 * commands for the billing team, in `billing` only, its own `jit:` group,
 * auto-approved with an incident reference.
 */
export function ephemeralPolicy(): Record<string, unknown> {
  const policy = JSON.parse(
    readFileSync(join(repoRoot(), 'deploy', 'base', 'config', 'policy.json'), 'utf8'),
  );
  const { runbooks: _runbooks, ...oncall } = policy.profiles['oncall-debug'];
  policy.profiles['billing-debug'] = {
    ...oncall,
    description: 'On-call debugging of the billing services (the ephemeral-mode pods test).',
    groups: ['jit:billing-debug:{namespace}'],
    requesterGroups: ['billing-oncall'],
    scope: { clusters: ['dev'], namespaces: ['billing'], pods: ['billing-*'] },
    approval: {
      autoApprove: [
        {
          id: 'incident',
          requesterGroups: ['billing-oncall'],
          maxTtlSeconds: 1800,
          reasonPattern: '^INC-[0-9]{4,8}\\b',
        },
      ],
      manual: { approverGroups: ['billing-leads'], count: 1, pendingExpirySeconds: 3600 },
    },
  };
  loadPolicy(JSON.stringify(policy));
  return policy;
}

/**
 * The RBAC for `policy` on cluster dev serving payments and billing: the
 * executors' Roles and ClusterRole (as base/executor-rbac.yaml, one more
 * namespace) and the broker's launcher ClusterRole (ephemeral-tiers'
 * launcher-rbac.yaml with the groups of both namespaces: what
 * renderLauncherRbac renders, built from core's parts since the CLI uses the
 * tiers only through core), as one List for `kubectl apply -f` over the
 * overlay's.
 */
export function ephemeralRbac(policy: Record<string, unknown>): object {
  const loaded = loadPolicy(JSON.stringify(policy));
  const namespaces = [...SERVED_NAMESPACES];
  const shipped = loadAllYaml(
    readFileSync(join(repoRoot(), 'deploy', 'components', 'ephemeral-tiers', 'launcher-rbac.yaml'), 'utf8'),
  ) as { kind: string; rules?: RbacRule[] }[];
  const launcher = JSON.parse(JSON.stringify(shipped.find((o) => o.kind === 'ClusterRole')));
  // Its first rule is create/delete/list of the per-request roles; the rest, what they may grant.
  launcher.rules = [
    launcher.rules[0],
    ...executorRules(jitGroupNames(loaded, { clusters: ['dev'], namespaces })),
  ];
  const items = [
    ...renderRbac(loaded, {
      cluster: 'dev',
      namespaces,
      executorServiceAccount: { name: 'airlock-executor', namespace: AIRLOCK_NAMESPACE },
    }),
    launcher,
  ];
  return { apiVersion: 'v1', kind: 'List', items };
}

/** Where the audit-shipping component's store listens (its Service), for the per-request pods' agents. */
export const AUDIT_STORE_ENDPOINT = `http://airlock-audit-store.${AIRLOCK_NAMESPACE}.svc:4318`;

/**
 * The broker config of deploy/overlays/dev-ephemeral with the dev identity
 * provider and the runbook identity; with `auditStore`, the launcher ships
 * every per-request pod's trail to the store (the :dev collector image).
 */
function brokerConfig(issuer: string, auditStore: boolean): Record<string, unknown> {
  const overlay = join(repoRoot(), 'deploy', 'overlays', 'dev-ephemeral');
  const broker = nodeBrokerConfig(join(overlay, 'config', 'broker.json'), issuer, EPHEMERAL_PEOPLE);
  if (auditStore) {
    (broker.launcher as Record<string, unknown>).auditStore = {
      endpoint: AUDIT_STORE_ENDPOINT,
      agentImage: 'airlock-otelcol:dev',
    };
  }
  return broker;
}

/**
 * The state dir's overlay: deploy/overlays/dev-ephemeral plus what only
 * this run knows: the identity provider (broker config), the two-team
 * policy, and a hostPath PersistentVolume for the broker's claim. The policy
 * keeps its plain name `airlock-policy` (no hash): the per-request pods
 * mount it by that name. With `auditStoreVolume`: the audit-shipping
 * component (its store on that host directory, the :dev collector image) and
 * the launcher's `auditStore`.
 */
export function writeEphemeralOverlay(
  stateDir: string,
  options: {
    issuer: string;
    brokerVolume: string;
    policy: Record<string, unknown>;
    auditStoreVolume?: string;
  },
): string {
  const dir = join(stateDir, 'deploy');
  mkdirSync(dir, { recursive: true });
  const overlay = join(repoRoot(), 'deploy', 'overlays', 'dev-ephemeral');
  const store = options.auditStoreVolume;
  const broker = brokerConfig(options.issuer, store !== undefined);
  writeFileSync(join(dir, 'broker.json'), `${JSON.stringify(broker, null, 2)}\n`);
  writeFileSync(join(dir, 'policy.json'), `${JSON.stringify(options.policy, null, 2)}\n`);
  const volume = hostPathVolume(
    'airlock-broker-state-dev',
    'airlock-broker-state',
    options.brokerVolume,
    '1Gi',
  );
  writeFileSync(join(dir, 'broker-volume.json'), JSON.stringify(volume, null, 2));
  if (store) {
    const storeVolume = hostPathVolume('airlock-audit-store-dev', 'airlock-audit-store', store, '20Gi');
    writeFileSync(join(dir, 'store-volume.json'), JSON.stringify(storeVolume, null, 2));
  }
  const shipping = join(repoRoot(), 'deploy', 'components', 'audit-shipping');
  const storeLines = store
    ? ['components:', `- ${relative(dir, shipping)}`, 'images:', '- name: airlock-otelcol', '  newTag: dev']
    : [];
  const generator = (name: string, file: string, hash: boolean) => [
    `- name: ${name}`,
    `  namespace: ${AIRLOCK_NAMESPACE}`,
    '  behavior: replace',
    ...(hash ? [] : ['  options:', '    disableNameSuffixHash: true']),
    '  files:',
    `  - ${file}`,
  ];
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      '# Written by the ephemeral-mode pods stack (services/cli/dev/pods/ephemeral-pods-stack.ts).',
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `- ${relative(dir, overlay)}`,
      '- broker-volume.json',
      ...(store ? ['- store-volume.json'] : []),
      'configMapGenerator:',
      ...generator('airlock-broker-config', 'broker.json', true),
      ...generator('airlock-policy', 'policy.json', false),
      ...storeLines,
      '',
    ].join('\n'),
  );
  return dir;
}
