/**
 * The broker's rights as `kubectl apply -k deploy/overlays/prod` ships them
 * (ephemeral mode, deploy/base's default), proved with SubjectAccessReviews
 * against a real kube-apiserver: its launcher may create and delete exactly
 * the kinds a request's tiers need, in the airlock namespace only, and list
 * only what the sweep reads; every other kind, verb and namespace is refused.
 * Only the prod overlay's ServiceAccounts and RBAC objects are applied (the
 * rest, e.g. the fail-closed CSR webhook, would disturb other test files).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadAllYaml, type V1ResourceAttributes } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { clusterInfo, serviceAccountMay } from '../support/kube.js';

const NS = 'airlock-system';
const APPLIED = new Set([
  'Namespace',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
]);

function kubectl(args: string[], input?: string) {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  return spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], {
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
  });
}

/** May the broker's ServiceAccount do `attributes`? */
const brokerMay = (attributes: V1ResourceAttributes) => serviceAccountMay(NS, 'airlock-broker', attributes);

const LAUNCHED = ['configmaps', 'pods', 'secrets', 'serviceaccounts', 'services'];

describe('deploy/overlays/prod: the broker launcher RBAC (SubjectAccessReview)', () => {
  beforeAll(() => {
    const built = kubectl(['kustomize', join(repoRoot(), 'deploy', 'overlays', 'prod')]);
    expect(built.stderr).toBe('');
    const objects = (loadAllYaml(built.stdout) as { kind: string }[]).filter((o) => APPLIED.has(o.kind));
    expect(kubectl(['create', 'namespace', 'payments']).status).toBeGreaterThanOrEqual(0);
    const applied = kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(applied.stderr).toBe('');
  });

  it('may create and delete each kind a request needs in the airlock namespace, and list what the sweep reads', async () => {
    for (const resource of LAUNCHED) {
      for (const verb of ['create', 'delete']) {
        expect([resource, verb, await brokerMay({ namespace: NS, verb, resource })]).toEqual([
          resource,
          verb,
          true,
        ]);
      }
    }
    for (const resource of ['configmaps', 'pods']) {
      expect(await brokerMay({ namespace: NS, verb: 'list', resource })).toBe(true);
    }
    for (const resource of ['clusterroles', 'clusterrolebindings']) {
      expect(await brokerMay({ verb: 'create', group: 'rbac.authorization.k8s.io', resource })).toBe(true);
    }
  });

  it('may not create the same kinds in another namespace', async () => {
    for (const namespace of ['payments', 'default', 'kube-system']) {
      for (const resource of LAUNCHED) {
        expect([namespace, resource, await brokerMay({ namespace, verb: 'create', resource })]).toEqual([
          namespace,
          resource,
          false,
        ]);
      }
    }
  });

  it('may not create other kinds, read Secrets, change running objects, exec, or escalate', async () => {
    const refused: V1ResourceAttributes[] = [
      { namespace: NS, verb: 'create', group: 'apps', resource: 'deployments' },
      { namespace: NS, verb: 'create', group: 'apps', resource: 'daemonsets' },
      { namespace: NS, verb: 'create', group: 'batch', resource: 'jobs' },
      { namespace: NS, verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'roles' },
      { namespace: NS, verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings' },
      { namespace: NS, verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies' },
      { namespace: NS, verb: 'create', resource: 'persistentvolumeclaims' },
      { namespace: NS, verb: 'get', resource: 'secrets' },
      { namespace: NS, verb: 'list', resource: 'secrets' },
      { namespace: NS, verb: 'update', resource: 'pods' },
      { namespace: NS, verb: 'patch', resource: 'services' },
      { namespace: NS, verb: 'create', resource: 'pods', subresource: 'exec' },
      { namespace: NS, verb: 'create', resource: 'serviceaccounts', subresource: 'token' },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'update', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'impersonate', resource: 'groups', name: 'system:masters' },
    ];
    for (const attributes of refused) {
      expect([attributes, await brokerMay(attributes)]).toEqual([attributes, false]);
    }
  });
});
