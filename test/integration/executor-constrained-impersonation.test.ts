/**
 * Constrained impersonation (KEP-5284) of the executor's rendered ClusterRole
 * on the real hermetic kube-apiserver: the executor may act as
 * `airlock:session` + a `jit:` group only for the requests airlock makes
 * (exec, logs, port-forward, debug, reads), so a stolen executor token cannot
 * use a group's rights for anything else — even where the group itself could.
 */
import { readFileSync } from 'node:fs';
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
  type Impersonation,
  type ImpersonationVerbs,
  loadPolicy,
  type RbacObject,
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

describe.each(['constrained', 'classic'] as const)(
  'executor impersonation verbs: %s',
  (mode: ImpersonationVerbs) => {
    const admin = adminKubeConfig();
    const payments = uniqueName('payments');
    const saNamespace = uniqueName('airlock-system');
    const saName = 'airlock-executor';
    const saUser = `system:serviceaccount:${saNamespace}:${saName}`;
    const saGroups = [
      'system:serviceaccounts',
      `system:serviceaccounts:${saNamespace}`,
      'system:authenticated',
    ];
    const suffix = uniqueName(mode);
    const oncallGroup = `jit:oncall:${payments}`;

    const example = JSON.parse(readFileSync('docs/policy.example.json', 'utf8')) as {
      profiles: Record<string, { scope: { namespaces: string[] } }>;
    };
    example.profiles['oncall-debug']!.scope.namespaces = [payments];
    const objects = renderRbac(loadPolicy(example), {
      cluster: 'dev',
      namespaces: [payments],
      executorServiceAccount: { name: saName, namespace: saNamespace },
      impersonation: mode,
    });
    const clusterScoped: { kind: 'ClusterRole' | 'ClusterRoleBinding'; name: string }[] = [];
    let asExecutor: KubeConfig;

    async function apply(object: RbacObject): Promise<void> {
      const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
      const body = structuredClone(object) as unknown as Record<string, { name: string; namespace: string }>;
      if (object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding') {
        body.metadata!.name = `${object.metadata.name}-${suffix}`;
        clusterScoped.push({ kind: object.kind, name: body.metadata!.name });
      }
      if (object.kind === 'ClusterRole')
        await rbac.createClusterRole({ body: body as unknown as V1ClusterRole });
      if (object.kind === 'ClusterRoleBinding') {
        body.roleRef!.name = `${object.roleRef.name}-${suffix}`;
        await rbac.createClusterRoleBinding({ body: body as unknown as V1ClusterRoleBinding });
      }
      const namespace = object.metadata.namespace!;
      if (object.kind === 'Role')
        await rbac.createNamespacedRole({ namespace, body: body as unknown as V1Role });
      if (object.kind === 'RoleBinding')
        await rbac.createNamespacedRoleBinding({ namespace, body: body as unknown as V1RoleBinding });
    }

    beforeAll(async () => {
      for (const ns of [payments, saNamespace]) await createNamespace(admin, ns);
      const core = admin.makeApiClient(CoreV1Api);
      await core.createNamespacedServiceAccount({
        namespace: saNamespace,
        body: { metadata: { name: saName } },
      });
      await core.createNamespacedSecret({
        namespace: payments,
        body: { metadata: { name: 'db-password' }, stringData: { password: 'not for airlock' } },
      });
      for (const object of objects) await apply(object);
      // An over-broad grant to the jit: group (a mistake, or an attacker's earlier foothold): the group
      // itself may delete pods and read secrets. Constrained impersonation must still keep the executor out.
      const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({
        namespace: payments,
        body: {
          metadata: { name: 'too-broad' },
          rules: [
            { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
            { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
          ],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: payments,
        body: {
          metadata: { name: 'too-broad' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'too-broad' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: oncallGroup }],
        },
      });
      await createRunningPod(admin, payments, 'payments-api-0', [{ name: 'main' }]);
      await createRunningPod(admin, payments, 'payments-api-1', [{ name: 'main' }]);
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
      for (const ns of [payments, saNamespace]) await core.deleteNamespace({ name: ns }).catch(() => {});
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

    const session = (groups: string[]): Impersonation => ({
      user: IMPERSONATED_USER,
      groups,
      extra: {
        'airlock.dev/user': ['alice'],
        'airlock.dev/session-id': ['s-1'],
        'airlock.dev/request-id': ['r-1'],
      },
    });

    const asSession = () => new CoreV1Api(impersonatingConfiguration(asExecutor, session([oncallGroup])));

    async function execEcho(): Promise<string> {
      const exec = new Exec(new ImpersonatingKubeConfig(asExecutor, session([oncallGroup])));
      const stdout = new Collector();
      const status = await new Promise<V1Status>((resolve, reject) => {
        exec
          .exec(payments, 'payments-api-0', 'main', ['echo', 'hi'], stdout, null, null, false, resolve)
          .catch(reject);
      });
      return `${status.status} ${stdout.text}`;
    }

    it('with its own token: as airlock:session + the jit: group, lists pods and execs into one', async () => {
      expect(await statusOf(asSession().listNamespacedPod({ namespace: payments }))).toBe(200);
      expect(await execEcho()).toBe('Success hi\n');
    });

    if (mode === 'constrained') {
      it('SubjectAccessReview: may impersonate the exact identities with impersonate:user-info, not with impersonate', async () => {
        const identity = (resource: string, name: string) =>
          executorMay({ verb: 'impersonate:user-info', group: 'authentication.k8s.io', resource, name });
        expect(await identity('users', IMPERSONATED_USER)).toBe(true);
        expect(await identity('groups', oncallGroup)).toBe(true);
        expect(await identity('users', 'system:admin')).toBe(false);
        expect(await identity('groups', 'system:masters')).toBe(false);
        expect(await executorMay({ verb: 'impersonate', resource: 'groups', name: oncallGroup })).toBe(false);
        expect(await executorMay({ verb: 'impersonate', resource: 'users', name: IMPERSONATED_USER })).toBe(
          false,
        );
      });

      it('SubjectAccessReview: may impersonate to exec, log, port-forward and read pods, not to delete pods or get secrets', async () => {
        const on = (verb: string, resource: string, subresource?: string) =>
          executorMay({
            verb: `impersonate-on:user-info:${verb}`,
            resource,
            namespace: payments,
            subresource,
          });
        expect(await on('create', 'pods', 'exec')).toBe(true);
        expect(await on('get', 'pods', 'exec')).toBe(true);
        expect(await on('get', 'pods', 'log')).toBe(true);
        expect(await on('create', 'pods', 'portforward')).toBe(true);
        expect(await on('get', 'pods')).toBe(true);
        expect(await on('list', 'pods')).toBe(true);
        expect(await on('delete', 'pods')).toBe(false);
        expect(await on('create', 'pods')).toBe(false);
        expect(await on('get', 'secrets')).toBe(false);
        expect(await on('list', 'secrets')).toBe(false);
        expect(await on('create', 'pods', 'attach')).toBe(false);
        // The example policy grants no profile `debug` in scope here, so no ephemeral containers either.
        expect(await on('patch', 'pods', 'ephemeralcontainers')).toBe(false);
      });
    }

    // The group itself may delete pods and read secrets (the too-broad Role). Classic impersonation hands
    // those rights to whoever holds the executor's token; constrained impersonation does not.
    const expected = mode === 'constrained' ? 403 : 200;

    it(`with its own token, impersonating the jit: group: get secrets is ${expected}`, async () => {
      expect(
        await statusOf(asSession().readNamespacedSecret({ namespace: payments, name: 'db-password' })),
      ).toBe(expected);
    });

    it(`with its own token, impersonating the jit: group: delete pods is ${expected}`, async () => {
      expect(
        await statusOf(asSession().deleteNamespacedPod({ namespace: payments, name: 'payments-api-1' })),
      ).toBe(expected);
    });
  },
);
