/**
 * The door's Kubernetes resolver against the real kube-apiserver, with the
 * shipped door RBAC (deploy/components/door/door-rbac.yaml) as its only
 * rights: it finds a request's mediator Service by the launcher's labels,
 * and that ServiceAccount can do nothing else (SubjectAccessReview).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type V1ResourceAttributes,
  type V1Role,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import {
  createKubeMediatorResolver,
  MEDIATOR_SERVICE,
} from '../../services/mediator/door/kube-mediator-resolver.js';
import type { MediatorResolver } from '../../services/mediator/door/mediator-resolver.js';
import {
  adminKubeConfig,
  clusterInfo,
  createNamespace,
  serviceAccountMay,
  uniqueName,
} from '../support/kube.js';

const SA = 'airlock-door';

/** The shipped Role's rules, bound to a ServiceAccount of `namespace`; a kubeconfig with its token. */
async function doorKubeConfig(admin: KubeConfig, namespace: string): Promise<KubeConfig> {
  const shipped = loadAllYaml(
    readFileSync(join(repoRoot(), 'deploy', 'components', 'door', 'door-rbac.yaml'), 'utf8'),
  ) as { kind: string }[];
  const role = shipped.find((o) => o.kind === 'Role') as V1Role;
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SA } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: SA }, rules: role.rules ?? [] } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: SA },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SA },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name: SA,
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name: SA, token: token.status?.token }],
    contexts: [{ name: 'door', cluster: 'hermetic', user: SA }],
    currentContext: 'door',
  });
  return kc;
}

async function createMediatorService(
  admin: KubeConfig,
  namespace: string,
  name: string,
  labels: Record<string, string>,
  portName: string = MEDIATOR_SERVICE.portName,
): Promise<string> {
  const created = await admin.makeApiClient(CoreV1Api).createNamespacedService({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { selector: { app: name }, ports: [{ name: portName, port: 22, targetPort: 2222 }] },
    },
  });
  return created.spec?.clusterIP ?? '';
}

describe('door: the Kubernetes mediator resolver with the shipped RBAC', () => {
  const admin = adminKubeConfig();
  const namespace = uniqueName('airlock-door');
  let resolver: MediatorResolver;
  const labels = (requestId: string, tier: string = MEDIATOR_SERVICE.tier) => ({
    [MEDIATOR_SERVICE.requestIdLabel]: requestId,
    [MEDIATOR_SERVICE.tierLabel]: tier,
  });

  beforeAll(async () => {
    await createNamespace(admin, namespace);
    resolver = createKubeMediatorResolver(await doorKubeConfig(admin, namespace), namespace);
  });

  it("resolves a request to its mediator Service's ClusterIP and `ssh` port", async () => {
    const clusterIp = await createMediatorService(admin, namespace, 'mediator-req-a1', labels('req-a1'));
    expect(clusterIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await resolver.resolve('req-a1')).toEqual({ host: clusterIp, port: 22 });
  });

  it('finds nothing for another tier, another request, or a Service without an `ssh` port', async () => {
    await createMediatorService(admin, namespace, 'executor-req-b1', labels('req-b1', 'executor'));
    await createMediatorService(admin, namespace, 'mediator-req-c1', labels('req-c1'), 'grpc');
    expect(await resolver.resolve('req-b1')).toBeUndefined();
    expect(await resolver.resolve('req-none')).toBeUndefined();
    expect(await resolver.resolve('req-c1')).toBeUndefined();
  });

  it('refuses a request two mediator Services claim (MEDIATOR_NOT_READY), rather than pick one', async () => {
    await createMediatorService(admin, namespace, 'mediator-req-d1', labels('req-d1'));
    await createMediatorService(admin, namespace, 'stray-req-d1', labels('req-d1'));
    await expect(resolver.resolve('req-d1')).rejects.toMatchObject({ code: 'MEDIATOR_NOT_READY' });
  });

  it('gives the door ServiceAccount Service reads in its namespace and nothing else', async () => {
    const can = (attributes: V1ResourceAttributes) => serviceAccountMay(namespace, SA, attributes);
    for (const verb of ['get', 'list', 'watch'])
      expect(await can({ namespace, verb, resource: 'services' })).toBe(true);
    for (const attributes of [
      { namespace, verb: 'create', resource: 'services' },
      { namespace, verb: 'patch', resource: 'services' },
      { namespace, verb: 'get', resource: 'secrets' },
      { namespace, verb: 'list', resource: 'pods' },
      { namespace, verb: 'create', resource: 'pods', subresource: 'exec' },
      { namespace, verb: 'list', resource: 'endpoints' },
      { namespace: 'default', verb: 'list', resource: 'services' },
      { verb: 'impersonate', resource: 'groups', name: 'system:masters' },
      { verb: 'impersonate', resource: 'users' },
    ]) {
      expect(await can(attributes), JSON.stringify(attributes)).toBe(false);
    }
  });
});
