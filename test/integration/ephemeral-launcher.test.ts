/**
 * Ephemeral tiers (services/broker/launcher) on the real hermetic
 * kube-apiserver, run as the broker's own ServiceAccount with exactly the
 * launcher RBAC deploy/ ships (renderLauncherRbac): approval creates the
 * request's objects (owner references, labels, activeDeadlineSeconds, Pod
 * Security `restricted` enforced by the namespace), request A's executor may
 * impersonate A's groups and not B's (SubjectAccessReview), revocation and
 * the sweep delete everything, and a refused creation (a ResourceQuota)
 * is LAUNCH_FAILED with Kubernetes' reason, on the request and in the trail.
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessBroker } from '../../services/broker/access-broker.js';
import { InMemoryDenyList } from '../../services/broker/deny-list.js';
import type { Identity } from '../../services/broker/identity.js';
import { createKubeTierLauncher, kubeReason } from '../../services/broker/launcher/kube-tier-launcher.js';
import { launchNames } from '../../services/broker/launcher/launch-names.js';
import { createTierLifecycle } from '../../services/broker/launcher/tier-lifecycle.js';
import { renderLauncherRbac } from '../../services/broker/launcher/tier-rbac.js';
import { InMemoryRequestStore } from '../../services/broker/request-store.js';
import { InMemoryAuditTrail } from '../../services/core/audit/index.js';
import { testPolicy } from '../../services/core/policy/testing.js';
import { formatPublicKeyLine, generateCaKey } from '../../services/core/ssh-cert/index.js';
import { adminKubeConfig, clusterInfo, uniqueName } from '../support/kube.js';

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const person = (user: string, groups: string[]): Identity => ({ user, groups, kind: 'human', via: 'oidc' });
const sam = person('sam', ['sre']);
const lee = person('lee', ['sre-leads']);
const policy = testPolicy();
const clusterScoped: { kind: string; name: string }[] = [];

/** A namespace enforcing Pod Security `restricted`, holding the broker's ServiceAccount and launcher RBAC. */
async function airlockNamespace(served: string[]): Promise<{ namespace: string; asBroker: KubeConfig }> {
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

function brokerIn(namespace: string, asBroker: KubeConfig) {
  const store = new InMemoryRequestStore();
  const audit = new InMemoryAuditTrail('broker', () => new Date());
  const launcher = createKubeTierLauncher({
    kubeConfig: asBroker,
    namespace,
    cluster: 'dev',
    images: { mediator: 'airlock-mediator:test', executor: 'airlock-executor:test' },
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
  return { store, audit, launcher, tiers, broker, approvedRequest };
}

/** Every object of one request that still exists, as `Kind/name`. */
async function objectsOf(namespace: string, requestId: string): Promise<string[]> {
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
async function expectAllGone(namespace: string, requestId: string): Promise<number> {
  const started = Date.now();
  let left = await objectsOf(namespace, requestId);
  for (let i = 0; i < 300 && left.length > 0; i++) {
    await sleep(100);
    left = await objectsOf(namespace, requestId);
  }
  expect(left).toEqual([]);
  return Date.now() - started;
}

async function saMay(
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

afterAll(async () => {
  for (const { kind, name } of clusterScoped) {
    if (kind === 'ClusterRole') await rbac.deleteClusterRole({ name }).catch(() => {});
    else await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
  }
});

describe('ephemeral tiers: the launcher on a real kube-apiserver, as the broker ServiceAccount', () => {
  const nsA = uniqueName('pay');
  const nsB = uniqueName('shop');
  let env: ReturnType<typeof brokerIn>;
  let namespace: string;

  beforeAll(async () => {
    const made = await airlockNamespace([nsA, nsB]);
    namespace = made.namespace;
    env = brokerIn(namespace, made.asBroker);
  });

  afterAll(async () => {
    for (const id of await env.launcher.launchedRequestIds()) await env.launcher.remove(id);
  });

  it('approval creates owner, ServiceAccounts, Secrets, Services and restricted pods, all owned and labelled', async () => {
    const request = await env.approvedRequest(nsA);
    expect(request.launch).toMatchObject({ status: 'launched' });
    const names = launchNames(request.id);
    expect(await objectsOf(namespace, request.id)).toEqual(
      [
        `ClusterRole/${names.clusterRole}`,
        `ClusterRoleBinding/${names.clusterRole}`,
        `ConfigMap/${names.owner}`,
        `Pod/${names.tier.executor}`,
        `Pod/${names.tier.mediator}`,
        `Secret/${names.secret.executor}`,
        `Secret/${names.secret.mediator}`,
        `Service/${names.tier.executor}`,
        `Service/${names.tier.mediator}`,
        `ServiceAccount/${names.tier.executor}`,
        `ServiceAccount/${names.tier.mediator}`,
      ].sort(),
    );
    const owner = await core.readNamespacedConfigMap({ namespace, name: names.owner });
    const ownerRef = [{ apiVersion: 'v1', kind: 'ConfigMap', name: names.owner, uid: owner.metadata?.uid }];
    const remaining = (Date.parse(request.accessExpiresAt ?? '') - Date.now()) / 1000;
    for (const tier of ['mediator', 'executor'] as const) {
      const pod = await core.readNamespacedPod({ namespace, name: names.tier[tier] });
      expect(pod.metadata?.ownerReferences).toEqual(ownerRef);
      expect(pod.metadata?.labels).toMatchObject({
        'airlock.dev/request-id': request.id,
        'airlock.dev/tier': tier,
        'airlock.dev/mode': 'ephemeral',
      });
      expect(pod.spec?.activeDeadlineSeconds).toBeGreaterThan(remaining - 30);
      expect(pod.spec?.activeDeadlineSeconds).toBeLessThanOrEqual(600);
      expect(pod.spec?.serviceAccountName).toBe(names.tier[tier]);
      expect(pod.spec?.automountServiceAccountToken).toBe(false);
      expect(pod.spec?.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.spec?.containers[0]?.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      const sa = await core.readNamespacedServiceAccount({ namespace, name: names.tier[tier] });
      const secret = await core.readNamespacedSecret({ namespace, name: names.secret[tier] });
      const service = await core.readNamespacedService({ namespace, name: names.tier[tier] });
      for (const object of [sa, secret, service]) expect(object.metadata?.ownerReferences).toEqual(ownerRef);
    }
    // Only the executor pod carries a (bound, projected) token; the mediator has no Kubernetes credential.
    const mediator = await core.readNamespacedPod({ namespace, name: names.tier.mediator });
    expect(mediator.spec?.volumes?.some((v) => v.projected)).toBe(false);
    // What the jump door looks up: the request's mediator Service and its port named ssh.
    const door = await core.listNamespacedService({
      namespace,
      labelSelector: `airlock.dev/request-id=${request.id},airlock.dev/tier=mediator`,
    });
    expect(door.items.map((s) => [s.metadata?.name, s.spec?.ports?.map((p) => p.name)])).toEqual([
      [names.tier.mediator, ['ssh']],
    ]);
    const launched = env.audit.events().filter((e) => e.event === 'tiers.launched');
    expect(launched.map((e) => [e.request_id, e.decision])).toEqual([[request.id, 'allow']]);
  });

  it("request A's executor may impersonate A's groups and not B's; no mediator may impersonate", async () => {
    const a = await env.approvedRequest(nsA);
    const b = await env.approvedRequest(nsB);
    const [na, nb] = [launchNames(a.id), launchNames(b.id)];
    const may = (sa: string, group: string) => saMay(namespace, sa, 'impersonate', 'groups', group);
    expect(await may(na.tier.executor, `jit:shell:${nsA}`)).toBe(true);
    expect(await may(na.tier.executor, `jit:shell:${nsB}`)).toBe(false);
    expect(await may(nb.tier.executor, `jit:shell:${nsB}`)).toBe(true);
    expect(await may(nb.tier.executor, `jit:shell:${nsA}`)).toBe(false);
    expect(await may(na.tier.mediator, `jit:shell:${nsA}`)).toBe(false);
    expect(await may(na.tier.executor, 'system:masters')).toBe(false);
    expect(await saMay(namespace, na.tier.executor, 'impersonate', 'users', 'airlock:session')).toBe(true);
    expect(await saMay(namespace, na.tier.executor, 'impersonate', 'users', 'system:admin')).toBe(false);
    // The broker itself: no read of the namespace's Secrets (the standing CA keys live there).
    expect(await saMay(namespace, 'airlock-broker', 'get', 'secrets', na.secret.executor)).toBe(false);
    expect(await saMay(namespace, 'airlock-broker', 'list', 'secrets', '')).toBe(false);
    // Its namespaced rights stop at the airlock namespace.
    expect(await saMay(namespace, 'airlock-broker', 'create', 'pods', '', namespace)).toBe(true);
    expect(await saMay(namespace, 'airlock-broker', 'create', 'pods', '', nsA)).toBe(false);
    expect(await saMay(namespace, 'airlock-broker', 'delete', 'pods', 'api-0', nsA)).toBe(false);
  });

  it('revocation deletes every object of the request and audits it; the other request keeps its pods', async () => {
    const a = await env.approvedRequest(nsA);
    const b = await env.approvedRequest(nsB);
    const revokedAt = Date.now();
    await env.broker.revoke(sam, a.id, 'done');
    const gcMs = await expectAllGone(namespace, a.id);
    // The measurement behind docs/architecture.md's deletion bound (revocation → last object gone).
    console.info(
      `ephemeral tiers: revocation to every object gone ${Date.now() - revokedAt} ms (garbage collector ${gcMs} ms)`,
    );
    expect(await objectsOf(namespace, b.id)).toHaveLength(11);
    const deleted = env.audit.events().filter((e) => e.event === 'tiers.deleted');
    expect(deleted.map((e) => [e.request_id, e.reason])).toEqual([[a.id, 'revoked']]);
  });

  it('the sweep deletes the objects of an expired request and of a request the broker does not know', async () => {
    const expired = await env.approvedRequest(nsA);
    await env.store.put({
      ...(await env.store.get(expired.id))!,
      accessExpiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const unknown = 'req-0123456789abcdef0123';
    const now = new Date();
    await env.launcher.launch({
      requestId: unknown,
      cluster: 'dev',
      groups: [`jit:shell:${nsB}`],
      accessExpiresAt: new Date(now.getTime() + 300_000),
      now,
    });
    const live = await env.approvedRequest(nsB);
    const swept = await env.tiers.sweep();
    expect(swept).toEqual(expect.arrayContaining([expired.id, unknown]));
    expect(swept).not.toContain(live.id);
    await expectAllGone(namespace, expired.id);
    await expectAllGone(namespace, unknown);
    expect(await objectsOf(namespace, live.id)).toHaveLength(11);
    const reasons = env.audit
      .events()
      .filter((e) => e.event === 'tiers.deleted' && [expired.id, unknown].includes(e.request_id ?? ''))
      .map((e) => [e.request_id, e.reason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [expired.id, 'expired'],
        [unknown, 'the broker knows no such request'],
      ]),
    );
  });
});

describe('ephemeral tiers: a refused creation', () => {
  it('refuses (escalation rule) a per-request role for a group outside the launcher RBAC, leaving nothing', async () => {
    const target = uniqueName('pay');
    const { namespace, asBroker } = await airlockNamespace([target]);
    const env = brokerIn(namespace, asBroker);
    const requestId = 'req-fedcba9876543210fedc';
    const now = new Date();
    const launch = env.launcher.launch({
      requestId,
      cluster: 'dev',
      groups: ['system:masters'],
      accessExpiresAt: new Date(now.getTime() + 300_000),
      now,
    });
    await expect(launch).rejects.toMatchObject({
      code: 'LAUNCH_FAILED',
      message: expect.stringMatching(/attempting to grant RBAC permissions not currently held/),
    });
    await expectAllGone(namespace, requestId);
  });

  it('refuses a request for another cluster than the launcher serves, creating nothing', async () => {
    const { namespace, asBroker } = await airlockNamespace([uniqueName('pay')]);
    const env = brokerIn(namespace, asBroker);
    const requestId = 'req-fedcba9876543210fed0';
    const now = new Date();
    await expect(
      env.launcher.launch({
        requestId,
        cluster: 'prod',
        groups: ['jit:shell:x'],
        accessExpiresAt: new Date(now.getTime() + 300_000),
        now,
      }),
    ).rejects.toMatchObject({
      code: 'LAUNCH_FAILED',
      message: expect.stringMatching(/launches tiers for dev/),
    });
    expect(await objectsOf(namespace, requestId)).toEqual([]);
  });

  it('the airlock namespace enforces Pod Security restricted: a pod without its securityContext is refused', async () => {
    const { namespace } = await airlockNamespace([uniqueName('pay')]);
    const create = core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'plain' },
        spec: { containers: [{ name: 'c', image: 'example.invalid/x:1' }] },
      },
    });
    const reason = await create.then(
      () => 'created',
      (error: unknown) => kubeReason(error),
    );
    expect(reason).toMatch(/^pods "plain" is forbidden: violates PodSecurity "restricted:latest"/);
  });

  it('is LAUNCH_FAILED with the reason on the request and in the trail, leaving nothing behind', async () => {
    const target = uniqueName('pay');
    const { namespace, asBroker } = await airlockNamespace([target]);
    await core.createNamespacedResourceQuota({
      namespace,
      body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } },
    });
    // No quota controller in the hermetic cluster: publish the usage it would compute.
    await core.replaceNamespacedResourceQuotaStatus({
      namespace,
      name: 'no-pods',
      body: {
        metadata: { name: 'no-pods' },
        spec: { hard: { pods: '0' } },
        status: { hard: { pods: '0' }, used: { pods: '0' } },
      },
    });
    const env = brokerIn(namespace, asBroker);
    const request = await env.approvedRequest(target);
    expect(request.status).toBe('approved');
    expect(request.launch).toMatchObject({ status: 'failed', code: 'LAUNCH_FAILED' });
    expect(request.launch?.reason).toMatch(/exceeded quota: no-pods/);
    expect((await env.store.get(request.id))?.launch?.code).toBe('LAUNCH_FAILED');
    const event = env.audit.events().find((e) => e.event === 'tiers.launched');
    expect([event?.decision, event?.code, event?.reason]).toEqual([
      'deny',
      'LAUNCH_FAILED',
      request.launch?.reason,
    ]);
    await expectAllGone(namespace, request.id);
  });
});
