import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { adminKubeConfig, clusterInfo, createNamespace, uniqueName } from '../support/kube.js';

const dir = join(repoRoot(), 'deploy', 'rbac');
const TEMPLATES = ['oncall-debug.yaml', 'jit-debug.yaml', 'jit-cluster-read.yaml'];

type Rbac = KubernetesObject & {
  subjects?: { kind: string; name: string }[];
  roleRef?: { kind: string; name: string };
};

function template(file: string): Rbac[] {
  return loadAllYaml(readFileSync(join(dir, file), 'utf8')) as Rbac[];
}

/**
 * A template adapted as deploy/rbac/README.md says: another namespace and
 * cluster name, in the objects and in the group names. Object names get a
 * suffix so each run's copy is its own.
 */
function adapted(file: string, namespace: string, cluster: string, suffix: string): Rbac[] {
  return template(file).map((object) => {
    const copy = JSON.parse(JSON.stringify(object)) as Rbac;
    copy.metadata = { ...copy.metadata, name: `${copy.metadata!.name}-${suffix}` };
    if (copy.metadata.namespace !== undefined) copy.metadata.namespace = namespace;
    if (copy.roleRef) copy.roleRef.name = `${copy.roleRef.name}-${suffix}`;
    for (const subject of copy.subjects ?? []) {
      subject.name = subject.name
        .replace(/:payments$/, `:${namespace}`)
        .replace(/:dev(?=$|:)/, `:${cluster}`);
    }
    return copy;
  });
}

describe('deploy/rbac: the jit: group templates against a real kube-apiserver', () => {
  const admin = adminKubeConfig();
  const authz = admin.makeApiClient(AuthorizationV1Api);
  const ns = uniqueName('rbac-tpl');
  const other = uniqueName('rbac-other');
  const cluster = uniqueName('c');
  const suffix = ns;

  /** Is the session user, acting as exactly this group, allowed to do this? */
  const can = async (group: string, attributes: V1ResourceAttributes): Promise<boolean> => {
    const review = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: 'airlock:session',
          groups: [group, 'system:authenticated'],
          resourceAttributes: attributes,
        },
      },
    });
    return review.status?.allowed === true;
  };

  const groups = {
    oncall: `jit:oncall:${ns}`,
    debug: `jit:debug:${cluster}:${ns}`,
    read: `jit:cluster-read:${cluster}`,
  };

  beforeAll(async () => {
    await createNamespace(admin, ns);
    await createNamespace(admin, other);
  });

  it('binds every template to groups only, each a jit: group, never to a user or ServiceAccount', () => {
    for (const file of TEMPLATES) {
      const bindings = template(file).filter((o) => o.kind?.endsWith('Binding'));
      expect(bindings.length).toBeGreaterThan(0);
      for (const binding of bindings) {
        expect(binding.subjects?.map((s) => s.kind)).toEqual(['Group']);
        expect(binding.subjects?.[0]?.name).toMatch(/^jit:/);
      }
    }
  });

  it('applies as shipped with kubectl apply -k deploy/rbac (server dry run, then for real)', () => {
    const { kubectlPath, kubeconfigPath } = clusterInfo();
    const kubectl = (args: string[]) =>
      spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
    kubectl(['create', 'namespace', 'payments']); // may exist already; the templates need it
    const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.stdout).toContain('clusterrole.rbac.authorization.k8s.io/jit-cluster-read');
    const applied = kubectl(['apply', '-k', dir]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(
      /rolebinding\.rbac\.authorization\.k8s\.io\/oncall-debug (created|unchanged)/,
    );
  });

  it('grants each group exactly what deploy/rbac/README.md says: nothing before, the listed verbs after, never the excluded ones', async () => {
    const pods = (verb: string, subresource?: string, namespace = ns): V1ResourceAttributes => ({
      namespace,
      verb,
      resource: 'pods',
      ...(subresource ? { subresource } : {}),
    });
    const apps = (resource: string, verb: string): V1ResourceAttributes => ({
      namespace: ns,
      verb,
      group: 'apps',
      resource,
    });
    const allowed: [string, V1ResourceAttributes][] = [
      ...['get', 'list', 'watch'].flatMap((verb): [string, V1ResourceAttributes][] => [
        [groups.oncall, pods(verb)],
        [groups.oncall, { namespace: ns, verb, resource: 'events' }],
        [groups.oncall, apps('deployments', verb)],
        [groups.oncall, apps('replicasets', verb)],
        [groups.debug, pods(verb)],
        [groups.debug, { namespace: ns, verb, resource: 'events' }],
        [groups.read, pods(verb, undefined, other)],
        [groups.read, { namespace: other, verb, resource: 'events' }],
        [groups.read, { verb, resource: 'nodes' }],
        [groups.read, { verb, resource: 'namespaces' }],
        [groups.read, { ...apps('deployments', verb), namespace: other }],
        [groups.read, { ...apps('replicasets', verb), namespace: other }],
      ]),
      [groups.oncall, pods('get', 'log')],
      ...['create', 'get'].flatMap((verb): [string, V1ResourceAttributes][] => [
        [groups.oncall, pods(verb, 'exec')],
        [groups.oncall, pods(verb, 'portforward')],
        [groups.debug, pods(verb, 'exec')],
      ]),
      [groups.debug, pods('get', 'log')],
      [groups.debug, pods('patch', 'ephemeralcontainers')],
      [groups.debug, pods('update', 'ephemeralcontainers')],
    ];
    const secrets = (namespace: string, verb: string): V1ResourceAttributes => ({
      namespace,
      verb,
      resource: 'secrets',
    });
    const denied: [string, V1ResourceAttributes][] = [
      ...Object.values(groups).flatMap((group): [string, V1ResourceAttributes][] => [
        [group, secrets(ns, 'get')],
        [group, secrets(ns, 'list')],
        [group, { namespace: ns, verb: 'get', resource: 'configmaps' }],
        [group, pods('create')],
        [group, pods('delete')],
        [group, pods('patch')],
        [group, pods('create', 'attach')],
        [group, { verb: 'impersonate', resource: 'groups', name: 'system:masters' }],
        [
          group,
          { namespace: ns, verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings' },
        ],
      ]),
      // oncall-debug: no ephemeral containers, nothing outside its namespace.
      [groups.oncall, pods('patch', 'ephemeralcontainers')],
      [groups.oncall, pods('list', undefined, other)],
      [groups.oncall, pods('create', 'exec', other)],
      [groups.oncall, { verb: 'list', resource: 'nodes' }],
      [groups.oncall, apps('deployments', 'update')],
      // jit-debug: no port-forward, no workloads, nothing outside its namespace.
      [groups.debug, pods('create', 'portforward')],
      [groups.debug, apps('deployments', 'list')],
      [groups.debug, pods('list', undefined, other)],
      [groups.debug, pods('create', 'exec', other)],
      // jit-cluster-read: reads only.
      [groups.read, pods('get', 'log')],
      [groups.read, pods('create', 'exec')],
      [groups.read, pods('create', 'portforward')],
      [groups.read, pods('patch', 'ephemeralcontainers')],
      [groups.read, { verb: 'delete', resource: 'namespaces', name: other }],
      [groups.read, apps('deployments', 'patch')],
      // A group the templates do not name (another namespace's on-call group) gets nothing.
      [`jit:oncall:${other}`, pods('list', undefined, other)],
    ];
    const decide = async (cells: [string, V1ResourceAttributes][]) =>
      Promise.all(
        cells.map(async ([group, attributes]) => ({
          group,
          attributes,
          allowed: await can(group, attributes),
        })),
      );

    // Before the templates are applied, none of the groups may do anything listed.
    expect((await decide(allowed)).filter((c) => c.allowed)).toEqual([]);

    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const file of TEMPLATES) {
      for (const object of adapted(file, ns, cluster, suffix)) await objects.create(object);
    }
    try {
      expect((await decide(allowed)).filter((c) => !c.allowed)).toEqual([]);
      expect((await decide(denied)).filter((c) => c.allowed)).toEqual([]);
    } finally {
      // The cluster-scoped copy would outlive the test namespace.
      for (const object of adapted('jit-cluster-read.yaml', ns, cluster, suffix)) {
        await objects.delete(object).catch(() => {});
      }
    }
  });
});
