/**
 * The executor's rendered RBAC (`renderRbac`, `airlock policy rbac`) against
 * the real hermetic kube-apiserver: the ServiceAccount can impersonate exactly
 * `airlock:session`, the rendered `jit:` groups and the four `airlock.dev/*`
 * extras, and nothing else (DESIGN.md "The executor's own rights must be
 * narrow"). First by SubjectAccessReview, then for real with the
 * ServiceAccount's own token. The default render uses constrained
 * impersonation (`impersonate:user-info`; what the executor may do while
 * impersonating is executor-constrained-impersonation.test.ts).
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { Writable } from 'node:stream';
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Role,
  type V1RoleBinding,
  type V1Status,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMPERSONATED_USER,
  IMPERSONATION_EXTRA_KEYS,
  type Impersonation,
  loadPolicy,
  type RbacObject,
  type RbacRole,
  renderRbac,
} from '../../services/core/policy/index.js';
import {
  ImpersonatingKubeConfig,
  impersonatingConfiguration,
} from '../../services/executor/kube-impersonation.js';
import {
  adminKubeConfig,
  clusterInfo,
  createNamespace,
  createRunningPod,
  uniqueName,
  waitForAuditEvent,
} from '../support/kube.js';

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('executor RBAC rendered from the policy, on a real kube-apiserver', () => {
  const admin = adminKubeConfig();
  const payments = uniqueName('payments');
  const billing = uniqueName('billing');
  const saNamespace = uniqueName('airlock-system');
  const saName = 'airlock-executor';
  const saUser = `system:serviceaccount:${saNamespace}:${saName}`;
  const saGroups = [
    'system:serviceaccounts',
    `system:serviceaccounts:${saNamespace}`,
    'system:authenticated',
  ];
  // Cluster-scoped names are shared by every test in the run: suffix them.
  const suffix = uniqueName('t');
  const oncallGroup = `jit:oncall:${payments}`;
  const person = uniqueName('alice');

  const example = JSON.parse(readFileSync('docs/policy.example.json', 'utf8')) as {
    profiles: Record<string, { scope: { namespaces: string[] } }>;
  };
  example.profiles['oncall-debug']!.scope.namespaces = [payments];
  const objects = renderRbac(loadPolicy(example), {
    cluster: 'dev',
    namespaces: [payments],
    executorServiceAccount: { name: saName, namespace: saNamespace },
  });
  const renderedGroups =
    objects.find((o): o is RbacRole => o.kind === 'ClusterRole' && o.metadata.name === 'airlock-executor')!
      .rules[1]?.resourceNames ?? [];

  let asExecutor: KubeConfig;
  const clusterScoped: { kind: 'ClusterRole' | 'ClusterRoleBinding'; name: string }[] = [];

  async function apply(object: RbacObject): Promise<void> {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const body = structuredClone(object) as unknown as Record<string, { name: string; namespace: string }>;
    switch (object.kind) {
      case 'ClusterRole':
        body.metadata!.name = `${object.metadata.name}-${suffix}`;
        clusterScoped.push({ kind: 'ClusterRole', name: body.metadata!.name });
        await rbac.createClusterRole({ body: body as unknown as V1ClusterRole });
        break;
      case 'ClusterRoleBinding':
        body.metadata!.name = `${object.metadata.name}-${suffix}`;
        body.roleRef!.name = `${object.roleRef.name}-${suffix}`;
        clusterScoped.push({ kind: 'ClusterRoleBinding', name: body.metadata!.name });
        await rbac.createClusterRoleBinding({ body: body as unknown as V1ClusterRoleBinding });
        break;
      case 'Role':
        await rbac.createNamespacedRole({
          namespace: object.metadata.namespace!,
          body: body as unknown as V1Role,
        });
        break;
      case 'RoleBinding':
        await rbac.createNamespacedRoleBinding({
          namespace: object.metadata.namespace!,
          body: body as unknown as V1RoleBinding,
        });
        break;
    }
  }

  beforeAll(async () => {
    for (const ns of [payments, billing, saNamespace]) await createNamespace(admin, ns);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: saNamespace,
      body: { metadata: { name: saName } },
    });
    await core.createNamespacedSecret({
      namespace: saNamespace,
      body: { metadata: { name: 'ca-key' }, stringData: { key: 'not for the executor' } },
    });
    for (const object of objects) await apply(object);
    await createRunningPod(admin, payments, 'payments-api-0', [{ name: 'main' }]);

    const token = await core.createNamespacedServiceAccountToken({
      namespace: saNamespace,
      name: saName,
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 600 } },
    });
    asExecutor = new KubeConfig();
    asExecutor.loadFromOptions({
      clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
      users: [{ name: 'executor', token: token.status?.token ?? '' }],
      contexts: [{ name: 'executor', cluster: 'hermetic', user: 'executor' }],
      currentContext: 'executor',
    });
  });

  afterAll(async () => {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    for (const { kind, name } of clusterScoped) {
      if (kind === 'ClusterRole') await rbac.deleteClusterRole({ name }).catch(() => {});
      else await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
    }
    const core = admin.makeApiClient(CoreV1Api);
    for (const ns of [payments, billing, saNamespace])
      await core.deleteNamespace({ name: ns }).catch(() => {});
  });

  /** Asks the apiserver whether the executor's ServiceAccount may do something. */
  async function executorMay(attributes: {
    verb: string;
    resource: string;
    group?: string;
    subresource?: string;
    name?: string;
    namespace?: string;
  }): Promise<boolean> {
    const review = await admin.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: { spec: { user: saUser, groups: saGroups, resourceAttributes: attributes } },
    });
    return review.status?.allowed === true;
  }

  const identity = (resource: string, name: string, subresource?: string) =>
    executorMay({
      verb: 'impersonate:user-info',
      group: 'authentication.k8s.io',
      resource,
      name,
      subresource,
    });
  const impersonateUser = (name: string) => identity('users', name);
  const impersonateGroup = (name: string) => identity('groups', name);

  it('renders exactly the groups the policy yields for the served namespace', () => {
    expect(renderedGroups).toEqual(['jit:cluster-read:dev', oncallGroup]);
  });

  it('SubjectAccessReview: may impersonate airlock:session, each rendered jit: group and the four airlock.dev extras', async () => {
    expect(await impersonateUser(IMPERSONATED_USER)).toBe(true);
    for (const group of renderedGroups) expect(await impersonateGroup(group), group).toBe(true);
    for (const key of IMPERSONATION_EXTRA_KEYS) {
      expect(await identity('userextras', 'any-value', key), key).toBe(true);
    }
  });

  it('SubjectAccessReview: may not impersonate other users, built-in or other groups, service accounts or other extras', async () => {
    for (const user of ['system:admin', 'system:kube-controller-manager', 'alice', 'system:anonymous']) {
      expect(await impersonateUser(user), user).toBe(false);
    }
    for (const group of ['system:masters', 'jit:other', 'jit:oncall:billing', 'system:authenticated']) {
      expect(await impersonateGroup(group), group).toBe(false);
    }
    for (const [verb, group] of [
      ['impersonate', ''],
      ['impersonate:serviceaccount', 'authentication.k8s.io'],
    ] as const) {
      const sa = { resource: 'serviceaccounts', namespace: 'kube-system', name: 'replicaset-controller' };
      expect(await executorMay({ verb, group, ...sa }), verb).toBe(false);
    }
    expect(await identity('userextras', 'x', 'scopes')).toBe(false);
    // Nor with the classic verb, which the default render no longer grants at all.
    expect(await executorMay({ verb: 'impersonate', resource: 'groups', name: oncallGroup })).toBe(false);
    expect(await executorMay({ verb: 'impersonate', resource: 'users', name: IMPERSONATED_USER })).toBe(
      false,
    );
  });

  it('SubjectAccessReview: has no rights of its own on pods, exec or secrets in any namespace', async () => {
    for (const namespace of [payments, billing, saNamespace, 'kube-system', '']) {
      expect(await executorMay({ verb: 'create', resource: 'pods', subresource: 'exec', namespace })).toBe(
        false,
      );
      expect(await executorMay({ verb: 'get', resource: 'secrets', namespace })).toBe(false);
      expect(await executorMay({ verb: 'list', resource: 'secrets', namespace })).toBe(false);
      expect(await executorMay({ verb: 'list', resource: 'pods', namespace })).toBe(false);
    }
    expect(
      await executorMay({ verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' }),
    ).toBe(true);
  });

  const session = (groups: string[], user = IMPERSONATED_USER): Impersonation => ({
    user,
    groups,
    extra: {
      'airlock.dev/user': [person],
      'airlock.dev/session-id': ['sess-1'],
      'airlock.dev/trace-id': ['4bf92f3577b34da6a3ce929d0e0e4736'],
      'airlock.dev/request-id': ['req-1'],
    },
  });

  it('with its own token: as airlock:session + jit:oncall lists pods in payments (200) and is denied in billing (403)', async () => {
    const asSession = new CoreV1Api(impersonatingConfiguration(asExecutor, session([oncallGroup])));
    const list = await asSession.listNamespacedPod({ namespace: payments });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['payments-api-0']);
    expect(await statusOf(asSession.listNamespacedPod({ namespace: billing }))).toBe(403);
    expect(await statusOf(asSession.readNamespacedSecret({ namespace: payments, name: 'x' }))).toBe(403);

    // The Kubernetes audit log names the person through the extra, and the executor as the impersonator.
    const event = await waitForAuditEvent(
      (e) =>
        e.impersonatedUser?.extra?.['airlock.dev/user']?.[0] === person &&
        e.objectRef?.namespace === payments,
    );
    expect(event.user?.username).toBe(saUser);
    expect(event.impersonatedUser?.username).toBe(IMPERSONATED_USER);
  });

  it('with its own token: as the session, exec into a payments pod works over WebSocket (pods/exec create+get)', async () => {
    const exec = new Exec(new ImpersonatingKubeConfig(asExecutor, session([oncallGroup])));
    const stdout = new Collector();
    const status = await new Promise<V1Status>((resolve, reject) => {
      exec
        .exec(payments, 'payments-api-0', 'main', ['echo', 'hi'], stdout, null, null, false, resolve)
        .catch(reject);
    });
    expect(status.status).toBe('Success');
    expect(stdout.text).toBe('hi\n');
  });

  it('with its own token: impersonating system:masters, another user or an unlisted extra is refused (403)', async () => {
    const refused = async (impersonation: Impersonation) =>
      statusOf(
        new CoreV1Api(impersonatingConfiguration(asExecutor, impersonation)).listNamespacedPod({
          namespace: payments,
        }),
      );
    expect(await refused(session(['system:masters']))).toBe(403);
    expect(await refused(session([oncallGroup], 'alice'))).toBe(403);
    expect(await refused(session([oncallGroup], 'system:kube-controller-manager'))).toBe(403);
    expect(await refused(session(['jit:oncall:billing']))).toBe(403);
    expect(
      await refused({
        user: IMPERSONATED_USER,
        groups: [oncallGroup],
        extra: { 'airlock.dev/other': ['x'] },
      }),
    ).toBe(403);
  });

  /** The audit event of one call, found by the request id the call impersonated with. */
  const auditedAs = (requestId: string) =>
    waitForAuditEvent((e) => e.impersonatedUser?.extra?.['airlock.dev/request-id']?.[0] === requestId);
  const twoGroups = (requestId: string): Impersonation => ({
    ...session([...renderedGroups]),
    extra: { ...session([]).extra, 'airlock.dev/request-id': [requestId] },
  });
  const asTwoGroups = [...renderedGroups, 'system:authenticated'];

  // client-node 2 moved its own transport to undici fetch, whose string-valued headers join a group list
  // into ONE group ("a, b", which the executor may not impersonate: 403). Each path the executor uses must
  // still send one Impersonate-Group line per group.
  it('two impersonated groups reach the apiserver as two groups: API client (node:https)', async () => {
    const asSession = new CoreV1Api(impersonatingConfiguration(asExecutor, twoGroups('two-groups-api')));
    await asSession.listNamespacedPod({ namespace: payments });
    expect((await auditedAs('two-groups-api')).impersonatedUser?.groups).toEqual(asTwoGroups);
  });

  it('two impersonated groups reach the apiserver as two groups: exec over WebSocket', async () => {
    const exec = new Exec(new ImpersonatingKubeConfig(asExecutor, twoGroups('two-groups-exec')));
    const stdout = new Collector();
    const status = await new Promise<V1Status>((resolve, reject) => {
      exec
        .exec(payments, 'payments-api-0', 'main', ['echo', 'hi'], stdout, null, null, false, resolve)
        .catch(reject);
    });
    expect(status.status).toBe('Success');
    const event = await auditedAs('two-groups-exec');
    expect(event.objectRef?.subresource).toBe('exec');
    expect(event.impersonatedUser?.groups).toEqual(asTwoGroups);
  });

  it('two impersonated groups reach the apiserver as two groups: pods/log as the executor streams it', async () => {
    const options: RequestOptions = { method: 'GET' };
    await new ImpersonatingKubeConfig(asExecutor, twoGroups('two-groups-log')).applyToHTTPSOptions(options);
    const url = `${clusterInfo().server}/api/v1/namespaces/${payments}/pods/payments-api-0/log?container=main`;
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(url, options, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(200);
    const event = await auditedAs('two-groups-log');
    expect(event.objectRef?.subresource).toBe('log');
    expect(event.impersonatedUser?.groups).toEqual(asTwoGroups);
  });

  it("client-node 2's own fetch path is refused for an impersonating config, rather than going out as the executor", async () => {
    const config = new ImpersonatingKubeConfig(asExecutor, twoGroups('two-groups-fetch'));
    await expect(config.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: payments })).rejects.toThrow(
      /impersonatingConfiguration/,
    );
  });

  it('with its own token and no impersonation: cannot read secrets or list pods (403)', async () => {
    const core = asExecutor.makeApiClient(CoreV1Api);
    expect(await statusOf(core.readNamespacedSecret({ namespace: saNamespace, name: 'ca-key' }))).toBe(403);
    expect(await statusOf(core.listSecretForAllNamespaces())).toBe(403);
    expect(await statusOf(core.listNamespacedPod({ namespace: payments }))).toBe(403);
  });
});
