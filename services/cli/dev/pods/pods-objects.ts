import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUNDLE_FILE, type CaKind } from '../../../core/ca-keyring/keyring.js';
import { AirlockError } from '../../../core/errors.js';
import { repoRoot } from '../../../core/repo/repo-root.js';

/** Runs the cluster's kubectl as cluster-admin and returns its stdout. */
export type Kubectl = (...args: string[]) => string;

export const AIRLOCK_NAMESPACE = 'airlock-system';
export const TIER_DEPLOYMENTS = ['airlock-executor', 'airlock-mediator', 'airlock-broker'] as const;
/** The demo pods run from the mediator image (node and a shell; no registry to pull busybox from). */
const DEMO_IMAGE = 'airlock-mediator:dev';

export interface TierKeys {
  caDirs: Readonly<Record<CaKind, string>>;
  brokerCa: { cert: string; key: string };
  auditKeys: Record<string, string>;
  hostKeyPath: string;
}

/**
 * The Secrets and ConfigMaps deploy/base/kustomization.yaml expects to be
 * created out of band (deploy/README.md "Secrets"), with the shapes the
 * tiers read: whole keyring directories for the rotating CAs, the broker
 * CA as tls.crt/tls.key, one audit.key per tier, the host key, and each
 * keyring's trust bundle as a ConfigMap.
 */
export function createTierSecrets(kubectl: Kubectl, keys: TierKeys): void {
  const ns = ['-n', AIRLOCK_NAMESPACE];
  const secret = (name: string, ...from: string[]) =>
    kubectl('create', 'secret', 'generic', name, ...ns, ...from.map((f) => `--from-file=${f}`));
  const configMap = (name: string, ...from: string[]) =>
    kubectl('create', 'configmap', name, ...ns, ...from.map((f) => `--from-file=${f}`));
  secret('airlock-ssh-user-ca-key', keys.caDirs['ssh-user']);
  secret('airlock-mediator-ca', keys.caDirs.mediator);
  secret('airlock-executor-ca', keys.caDirs.executor);
  secret('airlock-broker-ca', `tls.crt=${keys.brokerCa.cert}`, `tls.key=${keys.brokerCa.key}`);
  secret('airlock-mediator-host-key', `ssh_host_ed25519_key=${keys.hostKeyPath}`);
  for (const [tier, path] of Object.entries(keys.auditKeys))
    secret(`airlock-${tier}-audit-key`, `audit.key=${path}`);
  configMap(
    'airlock-ssh-user-ca',
    `ssh-user-ca.pub=${join(keys.caDirs['ssh-user'], BUNDLE_FILE['ssh-user'])}`,
  );
  configMap('airlock-mediator-ca-bundle', `ca.crt=${join(keys.caDirs.mediator, BUNDLE_FILE.mediator)}`);
  configMap('airlock-executor-ca-bundle', `ca.crt=${join(keys.caDirs.executor, BUNDLE_FILE.executor)}`);
}

/** The application namespaces deploy/base's executor RBAC holds Roles in, and the runbook's. */
export function createNamespaces(kubectl: Kubectl, names: string[]): void {
  for (const name of names) kubectl('create', 'namespace', name);
}

function demoPod(namespace: string, name: string, command: string[], port?: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, '') } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 },
      containers: [
        {
          name: 'main',
          image: DEMO_IMAGE,
          imagePullPolicy: 'Never',
          command,
          ...(port ? { ports: [{ containerPort: port, name: 'http' }] } : {}),
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
        },
      ],
    },
  };
}

/**
 * The demo workload and the runbook identity (as `dev up` has them): an HTTP
 * server on 8080 and a logging worker in `payments`, a pod in `billing` the
 * demo scope cannot reach, the incident-bot ServiceAccount, and the
 * deploy/rbac templates.
 */
export function applyDemo(kubectl: Kubectl, bot: { name: string; namespace: string }, workDir: string): void {
  kubectl('create', 'serviceaccount', bot.name, '-n', bot.namespace);
  kubectl('apply', '-k', join(repoRoot(), 'deploy', 'rbac'));
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      demoPod(
        'payments',
        'payments-api-0',
        ['node', '-e', "require('node:http').createServer((q, s) => s.end('payments-api\\n')).listen(8080)"],
        8080,
      ),
      demoPod('payments', 'payments-worker-0', [
        'sh',
        '-c',
        'i=0; while true; do i=$((i+1)); echo "processed batch $i"; sleep 2; done',
      ]),
      demoPod('billing', 'billing-api-0', ['sh', '-c', 'while true; do echo billing; sleep 5; done']),
    ],
  };
  const file = join(workDir, 'demo-pods.json');
  writeFileSync(file, JSON.stringify(list, null, 2));
  kubectl('apply', '-f', file);
}

interface DeploymentList {
  items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

/** Waits until the three tiers' Deployments are Available; fails with the pods' state and recent events. */
export async function waitForDeployments(
  kubectl: Kubectl,
  progress: (line: string) => void,
  timeoutMs = 240_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reported = '';
  for (;;) {
    const list = JSON.parse(
      kubectl('get', 'deployments', '-n', AIRLOCK_NAMESPACE, '-o', 'json'),
    ) as DeploymentList;
    const available = new Set(
      list.items
        .filter((d) => d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'))
        .map((d) => d.metadata.name),
    );
    const waiting = TIER_DEPLOYMENTS.filter((name) => !available.has(name));
    if (waiting.length === 0) return;
    if (Date.now() > deadline) {
      throw new AirlockError('CLUSTER_START_FAILED', `Deployments not Available: ${waiting.join(', ')}`, {
        detail: [
          kubectl('get', 'pods', '-A', '-o', 'wide'),
          kubectl('get', 'events', '-n', AIRLOCK_NAMESPACE, '--sort-by=.lastTimestamp'),
        ].join('\n'),
      });
    }
    const line = `waiting for ${waiting.join(', ')}`;
    if (line !== reported) progress(line);
    reported = line;
    await sleep(1_000);
  }
}
