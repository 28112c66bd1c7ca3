/**
 * Ephemeral tiers on the hermetic cluster (test/integration/ephemeral-*.test.ts):
 * an airlock namespace enforcing Pod Security `restricted` with the broker's
 * ServiceAccount and exactly the launcher RBAC deploy/ ships, a broker on
 * in-memory ports whose launcher runs as that ServiceAccount, and readers of
 * what a request left in the cluster.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { expect } from 'vitest';
import { createAccessBroker } from '../../services/broker/access-broker.js';
import { InMemoryDenyList } from '../../services/broker/deny-list.js';
import type { Identity } from '../../services/broker/identity.js';
import { createKubeTierLauncher } from '../../services/broker/launcher/kube-tier-launcher.js';
import { createTierLifecycle } from '../../services/broker/launcher/tier-lifecycle.js';
import { renderLauncherRbac } from '../../services/broker/launcher/tier-rbac.js';
import { InMemoryRequestStore } from '../../services/broker/request-store.js';
import { InMemoryAuditTrail } from '../../services/core/audit/index.js';
import { testPolicy } from '../../services/core/policy/testing.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { adminKubeConfig, clusterInfo, uniqueName } from './kube.js';

const admin = adminKubeConfig();
export const core = admin.makeApiClient(CoreV1Api);
export const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const person = (user: string, groups: string[]): Identity => ({ user, groups, kind: 'human', via: 'oidc' });
export const sam = person('sam', ['sre']);
const lee = person('lee', ['sre-leads']);
const policy = testPolicy();
const clusterScoped: { kind: string; name: string }[] = [];

/** A namespace enforcing Pod Security `restricted`, holding the broker's ServiceAccount and launcher RBAC. */
export async function airlockNamespace(
  served: string[],
): Promise<{ namespace: string; asBroker: KubeConfig }> {
  const namespace = uniqueName('airlock-eph');
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'airlock-broker' } } });
  const objects = renderLauncherRbac(policy, {
    cluster: 'dev',
    namespaces: served,
    brokerServiceAccount: { name: 'airlock-broker', namespace },
  });
  for (const object of objects) {
    const body = structuredClone(object) as unknown as {
      metadata: { name: string };
      roleRef?: { name: string };
    };
    if (object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding') {
      body.metadata.name = `${object.metadata.name}-${namespace}`;
      if (body.roleRef) body.roleRef.name = body.metadata.name;
      clusterScoped.push({ kind: object.kind, name: body.metadata.name });
    }
    if (object.kind === 'Role') await rbac.createNamespacedRole({ namespace, body: body as V1Role });
    if (object.kind === 'RoleBinding')
      await rbac.createNamespacedRoleBinding({ namespace, body: body as V1RoleBinding });
    if (object.kind === 'ClusterRole') await rbac.createClusterRole({ body: body as V1ClusterRole });
    if (object.kind === 'ClusterRoleBinding')
      await rbac.createClusterRoleBinding({ body: body as V1ClusterRoleBinding });
  }
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name: 'airlock-broker',
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
  });
  const asBroker = new KubeConfig();
  asBroker.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name: 'broker', token: token.status?.token ?? '' }],
    contexts: [{ name: 'broker', cluster: 'hermetic', user: 'broker' }],
    currentContext: 'broker',
  });
  return { namespace, asBroker };
}

export function brokerIn(namespace: string, asBroker: KubeConfig) {
  const store = new InMemoryRequestStore();
  const audit = new InMemoryAuditTrail('broker', () => new Date());
  // The airlock host CA that certifies each request's mediator host key.
  const hostCa = generateCaKey('ed25519', 'airlock-host-ca');
  const launcher = createKubeTierLauncher({
    kubeConfig: asBroker,
    namespace,
    cluster: 'dev',
    images: { mediator: 'airlock-mediator:test', executor: 'airlock-executor:test' },
    hostCa,
  });
  const tiers = createTierLifecycle({ launcher, store, audit, policy, clock: () => new Date() });
  const broker = createAccessBroker({
    policy,
    store,
    audit,
    denyList: new InMemoryDenyList(),
    caKey: generateCaKey('ed25519'),
    adminGroups: ['admins'],
    clock: () => new Date(),
    tiers,
  });
  const approvedRequest = async (target: string) => {
    const created = await broker.create(sam, {
      profile: 'shell',
      cluster: 'dev',
      namespace: target,
      podPatterns: ['api-0'],
      reason: 'debug',
      ttlSeconds: 600,
      sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'sam'),
    });
    return broker.approve(lee, created.id, 'ok');
  };
  return { store, audit, launcher, tiers, broker, approvedRequest, hostCa: hostCa.publicKey };
}

/** Every object of one request that still exists, as `Kind/name`. */
export async function objectsOf(namespace: string, requestId: string): Promise<string[]> {
  const labelSelector = `airlock.dev/request-id=${requestId}`;
  const found: string[] = [];
  const add = (kind: string, list: { items: { metadata?: { name?: string } }[] }) => {
    for (const item of list.items) found.push(`${kind}/${item.metadata?.name}`);
  };
  add('ConfigMap', await core.listNamespacedConfigMap({ namespace, labelSelector }));
  add('ServiceAccount', await core.listNamespacedServiceAccount({ namespace, labelSelector }));
  add('Secret', await core.listNamespacedSecret({ namespace, labelSelector }));
  add('Service', await core.listNamespacedService({ namespace, labelSelector }));
  add('Pod', await core.listNamespacedPod({ namespace, labelSelector }));
  add('ClusterRole', await rbac.listClusterRole({ labelSelector }));
  add('ClusterRoleBinding', await rbac.listClusterRoleBinding({ labelSelector }));
  return found.sort();
}

/**
 * Polls until the garbage collector has removed everything of the request (it
 * runs asynchronously); resolves to how long that took (reported, never asserted).
 */
export async function expectAllGone(namespace: string, requestId: string): Promise<number> {
  const started = Date.now();
  let left = await objectsOf(namespace, requestId);
  for (let i = 0; i < 300 && left.length > 0; i++) {
    await sleep(100);
    left = await objectsOf(namespace, requestId);
  }
  expect(left).toEqual([]);
  return Date.now() - started;
}

export async function saMay(
  namespace: string,
  sa: string,
  verb: string,
  resource: string,
  name: string,
  inNamespace?: string,
) {
  const review = await admin.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${namespace}:${sa}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        resourceAttributes: {
          verb,
          resource,
          name,
          group: '',
          ...(inNamespace ? { namespace: inNamespace } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

/** Deletes the launcher ClusterRoles and bindings the namespaces above created (cluster-scoped: shared by the run). */
export async function deleteLauncherRbac(): Promise<void> {
  for (const { kind, name } of clusterScoped.splice(0)) {
    if (kind === 'ClusterRole') await rbac.deleteClusterRole({ name }).catch(() => {});
    else await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
  }
}
