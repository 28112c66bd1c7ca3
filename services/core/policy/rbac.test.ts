import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AirlockError } from '../errors.js';
import { IMPERSONATED_USER, IMPERSONATION_EXTRA_KEYS } from './kube-impersonation.js';
import {
  impersonationVerbsFor,
  type RbacBinding,
  type RbacObject,
  type RbacRole,
  type RbacRule,
  renderRbac,
} from './rbac.js';
import { testPolicyJson } from './testing.js';
import { loadPolicy } from './validate.js';

const example = loadPolicy(readFileSync('docs/policy.example.json', 'utf8'));
const sa = { name: 'airlock-executor', namespace: 'airlock-system' };

function find<K extends RbacObject['kind']>(
  objects: readonly RbacObject[],
  kind: K,
  name: string,
  namespace?: string,
): K extends 'ClusterRole' | 'Role' ? RbacRole : RbacBinding {
  const found = objects.find(
    (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
  );
  if (!found) throw new Error(`no ${kind} ${namespace ?? ''}/${name}`);
  return found as K extends 'ClusterRole' | 'Role' ? RbacRole : RbacBinding;
}

/** The verbs a role grants on apiGroup/resource, or [] when it grants none. */
function verbs(role: RbacRole, apiGroup: string, resource: string): readonly string[] {
  return (
    role.rules.find((r) => r.apiGroups.includes(apiGroup) && r.resources.includes(resource))?.verbs ?? []
  );
}

describe('renderRbac', () => {
  const objects = renderRbac(example, {
    cluster: 'dev',
    namespaces: ['payments', 'billing'],
    executorServiceAccount: sa,
  });

  it('lists the objects in a fixed order: executor, cluster-scoped profile roles, then Roles by namespace and profile', () => {
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      'ClusterRole /airlock-executor',
      'ClusterRoleBinding /airlock-executor',
      'ClusterRole /airlock-jit-cluster-read',
      'ClusterRoleBinding /airlock-jit-cluster-read',
      'Role billing/airlock-jit-cluster-read',
      'RoleBinding billing/airlock-jit-cluster-read',
      'Role payments/airlock-jit-cluster-read',
      'RoleBinding payments/airlock-jit-cluster-read',
      'Role payments/airlock-jit-oncall-debug',
      'RoleBinding payments/airlock-jit-oncall-debug',
    ]);
  });

  it('is deterministic: namespace order and duplicates in the input do not change the output', () => {
    const again = renderRbac(example, {
      cluster: 'dev',
      namespaces: ['billing', 'payments', 'billing'],
      executorServiceAccount: sa,
    });
    expect(JSON.stringify(again)).toBe(JSON.stringify(objects));
  });

  const extrasRule = (verb: string): RbacRule => ({
    apiGroups: ['authentication.k8s.io'],
    resources: [
      'userextras/airlock.dev/request-id',
      'userextras/airlock.dev/session-id',
      'userextras/airlock.dev/trace-id',
      'userextras/airlock.dev/user',
    ],
    verbs: [verb],
  });
  const sarRule: RbacRule = {
    apiGroups: ['authorization.k8s.io'],
    resources: ['subjectaccessreviews'],
    verbs: ['create'],
  };
  const groups = ['jit:cluster-read:dev', 'jit:oncall:payments'];

  it('constrained (default): the executor may act as exactly airlock:session, the rendered jit: groups and the four extras, only for the requests the profiles in scope need', () => {
    const role = find(objects, 'ClusterRole', 'airlock-executor');
    const on = (...v: string[]) => v.map((verb) => `impersonate-on:user-info:${verb}`);
    const auth = 'authentication.k8s.io';
    expect(role.rules).toEqual<RbacRule[]>([
      {
        apiGroups: [auth],
        resources: ['users'],
        verbs: ['impersonate:user-info'],
        resourceNames: ['airlock:session'],
      },
      { apiGroups: [auth], resources: ['groups'], verbs: ['impersonate:user-info'], resourceNames: groups },
      extrasRule('impersonate:user-info'),
      { apiGroups: [''], resources: ['events'], verbs: on('get', 'list', 'watch') },
      { apiGroups: [''], resources: ['namespaces'], verbs: on('get', 'list', 'watch') },
      { apiGroups: [''], resources: ['nodes'], verbs: on('get', 'list', 'watch') },
      { apiGroups: [''], resources: ['pods'], verbs: on('get', 'list', 'watch') },
      { apiGroups: [''], resources: ['pods/exec'], verbs: on('create', 'get') },
      { apiGroups: [''], resources: ['pods/log'], verbs: on('get') },
      { apiGroups: [''], resources: ['pods/portforward'], verbs: on('create', 'get') },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: on('get', 'list', 'watch') },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: on('get', 'list', 'watch') },
      sarRule,
    ]);
    expect(role.rules.flatMap((r) => r.verbs)).not.toContain('impersonate');
    expect(IMPERSONATED_USER).toBe('airlock:session');
    expect(IMPERSONATION_EXTRA_KEYS).toHaveLength(4);
  });

  it('classic (clusters before 1.36): the blanket impersonate verb on the same exact names, no impersonate-on rules', () => {
    const classic = renderRbac(example, {
      cluster: 'dev',
      namespaces: ['payments', 'billing'],
      executorServiceAccount: sa,
      impersonation: 'classic',
    });
    expect(find(classic, 'ClusterRole', 'airlock-executor').rules).toEqual<RbacRule[]>([
      { apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['airlock:session'] },
      { apiGroups: [''], resources: ['groups'], verbs: ['impersonate'], resourceNames: groups },
      extrasRule('impersonate'),
      sarRule,
    ]);
    // Only the executor's ClusterRole differs.
    expect(JSON.stringify(classic.slice(1))).toBe(JSON.stringify(objects.slice(1)));
  });

  it('constrained: never an impersonate-on right on secrets, pods create/delete or a verb no action uses', () => {
    const rules = find(objects, 'ClusterRole', 'airlock-executor').rules;
    const onRules = rules.filter((r) => r.verbs.some((v) => v.startsWith('impersonate-on:')));
    expect(onRules.flatMap((r) => r.resources)).not.toContain('secrets');
    const podVerbs = onRules.find((r) => r.resources[0] === 'pods')?.verbs ?? [];
    for (const verb of ['create', 'delete', 'update', 'patch', 'deletecollection', '*']) {
      expect(podVerbs).not.toContain(`impersonate-on:user-info:${verb}`);
    }
  });

  it('constrained: a profile with debug adds pods/ephemeralcontainers patch/update and pods watch', () => {
    const json = testPolicyJson();
    json.profiles.debug!.actions = { debug: { images: ['busybox:1.36'] } };
    const out = renderRbac(loadPolicy(json), {
      cluster: 'dev',
      namespaces: ['payments'],
      executorServiceAccount: sa,
    });
    const role = find(out, 'ClusterRole', 'airlock-executor');
    expect(verbs(role, '', 'pods/ephemeralcontainers')).toEqual([
      'impersonate-on:user-info:patch',
      'impersonate-on:user-info:update',
    ]);
    expect(verbs(role, '', 'pods')).toEqual(
      expect.arrayContaining(['impersonate-on:user-info:get', 'impersonate-on:user-info:watch']),
    );
  });

  it('never grants an identity impersonation without resourceNames except on the listed extra keys', () => {
    for (const impersonation of ['constrained', 'classic'] as const) {
      const out = renderRbac(example, {
        cluster: 'dev',
        namespaces: ['payments'],
        executorServiceAccount: sa,
        impersonation,
      });
      for (const rule of find(out, 'ClusterRole', 'airlock-executor').rules) {
        if (!rule.verbs.some((v) => v === 'impersonate' || v.startsWith('impersonate:'))) continue;
        if (rule.resources.some((r) => r.startsWith('userextras/'))) {
          expect(rule.resources.every((r) => r.startsWith('userextras/airlock.dev/'))).toBe(true);
        } else {
          expect(rule.resourceNames?.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('omits the groups rule entirely when no group renders, because empty resourceNames means every group', () => {
    const none = renderRbac(example, { cluster: 'dev', namespaces: [], executorServiceAccount: sa });
    const rules = find(none, 'ClusterRole', 'airlock-executor').rules;
    expect(rules.some((r) => r.resources.includes('groups'))).toBe(false);
    expect(rules.every((r) => !r.verbs.includes('impersonate') || r.resources[0] !== 'groups')).toBe(true);
    expect(none.map((o) => o.metadata.name)).toEqual(['airlock-executor', 'airlock-executor']);
  });

  it('binds the executor ClusterRole to the ServiceAccount only', () => {
    expect(find(objects, 'ClusterRoleBinding', 'airlock-executor')).toMatchObject<Partial<RbacBinding>>({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'airlock-executor' },
      subjects: [{ kind: 'ServiceAccount', name: 'airlock-executor', namespace: 'airlock-system' }],
    });
  });

  it('grants oncall-debug in payments exactly what its actions need, bound to jit:oncall:payments', () => {
    const role = find(objects, 'Role', 'airlock-jit-oncall-debug', 'payments');
    expect(role.rules).toEqual<RbacRule[]>([
      { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods/portforward'], verbs: ['create', 'get'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(find(objects, 'RoleBinding', 'airlock-jit-oncall-debug', 'payments').subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'jit:oncall:payments' },
    ]);
  });

  it('gives oncall-debug nothing outside its scope (billing) and never touches secrets', () => {
    expect(
      objects.some((o) => o.metadata.namespace === 'billing' && o.metadata.name.includes('oncall')),
    ).toBe(false);
    for (const o of objects) {
      if ('rules' in o) expect(o.rules.flatMap((r) => r.resources)).not.toContain('secrets');
    }
  });

  it('puts cluster-read nodes and namespaces in a ClusterRole and its namespaced reads in per-namespace Roles', () => {
    expect(find(objects, 'ClusterRole', 'airlock-jit-cluster-read').rules).toEqual<RbacRule[]>([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(find(objects, 'ClusterRoleBinding', 'airlock-jit-cluster-read').subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'jit:cluster-read:dev' },
    ]);
    const billing = find(objects, 'Role', 'airlock-jit-cluster-read', 'billing');
    expect(verbs(billing, '', 'pods')).toEqual(['get', 'list', 'watch']);
    expect(verbs(billing, '', 'pods/log')).toEqual([]);
    expect(verbs(billing, '', 'nodes')).toEqual([]);
  });

  it('maps shell to pods/exec and debug to pods/ephemeralcontainers patch/update plus pods get/watch', () => {
    const policy = loadPolicy(testPolicyJson());
    const out = renderRbac(policy, { cluster: 'dev', namespaces: ['payments'], executorServiceAccount: sa });
    const shell = find(out, 'Role', 'airlock-jit-shell', 'payments');
    expect(shell.rules).toEqual<RbacRule[]>([
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] },
    ]);
    const debug = find(out, 'Role', 'airlock-jit-debug', 'payments');
    expect(verbs(debug, '', 'pods/ephemeralcontainers')).toEqual(['patch', 'update']);
    expect(verbs(debug, '', 'pods')).toEqual(['get', 'list', 'watch']);
    expect(find(out, 'RoleBinding', 'airlock-jit-debug', 'payments').subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'jit:debug:dev:payments' },
    ]);
  });

  it('renders nothing for a profile whose cluster scope does not match', () => {
    const out = renderRbac(example, {
      cluster: 'staging',
      namespaces: ['payments'],
      executorServiceAccount: sa,
    });
    expect(out.some((o) => o.metadata.name === 'airlock-jit-oncall-debug')).toBe(false);
    expect(find(out, 'ClusterRole', 'airlock-executor').rules[1]?.resourceNames).toEqual([
      'jit:cluster-read:staging',
    ]);
  });

  it.each([
    [{ cluster: 'dev:x', namespaces: ['payments'] }, 'SCOPE_CLUSTER'],
    [{ cluster: 'dev', namespaces: ['Payments'] }, 'SCOPE_NAMESPACE'],
  ])('rejects malformed names %j with %s', (opts, code) => {
    expect(() => renderRbac(example, { ...opts, executorServiceAccount: sa })).toThrow(
      expect.objectContaining({ code }) as unknown as AirlockError,
    );
  });

  it('rejects a malformed ServiceAccount with CONFIG_INVALID', () => {
    expect(() =>
      renderRbac(example, {
        cluster: 'dev',
        namespaces: [],
        executorServiceAccount: { name: 'a/b', namespace: 'airlock-system' },
      }),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }) as unknown as AirlockError);
  });
});

describe('impersonationVerbsFor', () => {
  it.each([
    ['1', '35', 'classic'],
    ['1', '30', 'classic'],
    ['1', '36', 'constrained'],
    ['1', '37', 'constrained'],
    ['1', '36+', 'constrained'],
    ['1', '35+', 'classic'],
    ['2', '0', 'constrained'],
    ['', '', 'constrained'],
  ] as const)('Kubernetes %s.%s: %s', (major, minor, expected) => {
    expect(impersonationVerbsFor(major, minor)).toBe(expected);
  });
});
