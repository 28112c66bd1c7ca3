/**
 * Kubernetes RBAC rendered from the policy: the executor's own narrow rights
 * and the rights of each `jit:` group (`airlock policy rbac`).
 *
 * The executor impersonates (https://kubernetes.io/docs/reference/access-authn-authz/user-impersonation/)
 * one fixed user, `airlock:session`, plus the scope's exact `jit:` groups, and
 * carries the person and the correlation ids as `Impersonate-Extra` values
 * (the mapping itself: kube-impersonation.ts).
 * RBAC `resourceNames` match exactly and cannot express a prefix such as
 * "any user named jit:…", so a fixed user name is the only way to bound the
 * users it may become; the groups are listed one by one from
 * `jitGroupNames`. A rule with an empty `resourceNames` would mean "any
 * name", so the groups rule is left out entirely when there is no group.
 *
 * By default the executor's rights use constrained impersonation
 * (KEP-5284, beta and on by default since Kubernetes 1.36): the apiserver
 * then checks two things for every impersonated request — may the executor
 * act as each identity (`impersonate:user-info` on `authentication.k8s.io`
 * users, groups and userextras, exact names), and may it do *this* request
 * while impersonating (`impersonate-on:user-info:<verb>` on the request's own
 * resource). The second check is rendered from the actions of the profiles
 * in scope, so a stolen executor token cannot impersonate a `jit:` group to
 * delete pods or read secrets even if the group's own RBAC were widened.
 * `impersonation: 'classic'` renders the older blanket `impersonate` verb for
 * clusters before 1.36 (or with the ConstrainedImpersonation gate off).
 * See deploy/README.md for the reasoning and what the ServiceAccount cannot do.
 *
 * Pure: no I/O, output order is deterministic (same input, same bytes).
 */
import { AirlockError } from '../errors.js';
import { globMatchAny } from './glob.js';
import { CLUSTER_NAME, jitGroupNames, NAMESPACE_NAME, renderGroups } from './groups.js';
import { IMPERSONATED_USER, IMPERSONATION_EXTRA_KEYS } from './kube-impersonation.js';
import { CLUSTER_SCOPED_RESOURCES, type Policy, type Profile, type Resource } from './types.js';

/** Name of the executor's ClusterRole and ClusterRoleBinding. */
export const EXECUTOR_ROLE_NAME = 'airlock-executor';

const RBAC_API = 'rbac.authorization.k8s.io';
const RBAC_API_VERSION = `${RBAC_API}/v1`;
const LABELS = { 'app.kubernetes.io/managed-by': 'airlock', 'app.kubernetes.io/part-of': 'airlock' } as const;

/** One RBAC rule (rbac.authorization.k8s.io/v1 PolicyRule). */
export interface RbacRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export interface RbacSubject {
  readonly kind: 'Group' | 'ServiceAccount';
  readonly name: string;
  readonly apiGroup?: string;
  readonly namespace?: string;
}

interface Metadata {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RbacRole {
  readonly apiVersion: typeof RBAC_API_VERSION;
  readonly kind: 'ClusterRole' | 'Role';
  readonly metadata: Metadata;
  readonly rules: readonly RbacRule[];
}

export interface RbacBinding {
  readonly apiVersion: typeof RBAC_API_VERSION;
  readonly kind: 'ClusterRoleBinding' | 'RoleBinding';
  readonly metadata: Metadata;
  readonly roleRef: {
    readonly apiGroup: typeof RBAC_API;
    readonly kind: 'ClusterRole' | 'Role';
    readonly name: string;
  };
  readonly subjects: readonly RbacSubject[];
}

export type RbacObject = RbacRole | RbacBinding;

/**
 * How the executor's ClusterRole grants impersonation: `constrained`
 * (KEP-5284 `impersonate:user-info` + `impersonate-on:user-info:<verb>`,
 * Kubernetes >= 1.36) or `classic` (`impersonate`, any request).
 */
export type ImpersonationVerbs = 'constrained' | 'classic';

export const IMPERSONATION_VERBS: readonly ImpersonationVerbs[] = ['constrained', 'classic'];

/** The identity verb of constrained impersonation for a regular (non ServiceAccount, non node) user. */
export const IMPERSONATE_USER_INFO = 'impersonate:user-info';

/** The action verb constrained impersonation checks for a request `verb` made while impersonating. */
export function impersonateOn(verb: string): string {
  return `impersonate-on:user-info:${verb}`;
}

/**
 * The impersonation verbs a cluster of this version understands: `classic`
 * before Kubernetes 1.36 (KEP-5284 beta, on by default), `constrained` from
 * 1.36 on and for a version it cannot read as `major.minor` ("v1.37.0",
 * "1", "36+" as `/version` reports them). A 1.36+ cluster with the
 * `ConstrainedImpersonation` gate turned off needs `classic` set by hand.
 */
export function impersonationVerbsFor(major: string, minor: string): ImpersonationVerbs {
  const ma = Number.parseInt(major, 10);
  const mi = Number.parseInt(minor, 10);
  if (!Number.isInteger(ma) || !Number.isInteger(mi)) return 'constrained';
  return ma > 1 || (ma === 1 && mi >= 36) ? 'constrained' : 'classic';
}

export interface RbacOptions {
  /** The cluster these objects are applied to; `{cluster}` in group templates renders to it. */
  readonly cluster: string;
  /** The namespaces airlock serves in that cluster; profiles get Roles only where their scope matches. */
  readonly namespaces: readonly string[];
  /** The executor's ServiceAccount, bound to the `airlock-executor` ClusterRole. */
  readonly executorServiceAccount: { readonly name: string; readonly namespace: string };
  /** Default `constrained`; `classic` for clusters without KEP-5284 (before Kubernetes 1.36). */
  readonly impersonation?: ImpersonationVerbs;
}

/** The Kubernetes API group and plural of each policy resource. */
const API_GROUP: Readonly<Record<Resource, string>> = {
  pods: '',
  events: '',
  deployments: 'apps',
  replicasets: 'apps',
  nodes: '',
  namespaces: '',
};

/** Collects verbs per (apiGroup, resource) so each resource appears in exactly one rule. */
class RuleSet {
  readonly #verbs = new Map<string, Set<string>>();

  add(apiGroup: string, resource: string, ...verbs: string[]): void {
    const key = `${apiGroup}\u0000${resource}`;
    const set = this.#verbs.get(key) ?? new Set<string>();
    for (const v of verbs) set.add(v);
    this.#verbs.set(key, set);
  }

  rules(): RbacRule[] {
    return [...this.#verbs.keys()].sort().map((key) => {
      const [apiGroup = '', resource = ''] = key.split('\u0000');
      return { apiGroups: [apiGroup], resources: [resource], verbs: [...this.#verbs.get(key)!].sort() };
    });
  }
}

/**
 * What each action needs, as the impersonated session:
 * - `list` / `get`: `list`+`watch` / `get` on the named resources (watch shows no more than list);
 * - `logs`, `exec`, `shell`, `port-forward`, `debug`: `get` on pods, because they name one pod and
 *   the executor reads it to resolve container and port names (`port-forward … http`);
 * - `exec` / `shell` / `port-forward`: `create` and `get` on `pods/exec` / `pods/portforward`.
 *   SPDY upgrades are POSTs (`create`); WebSocket upgrades are GETs, authorized as `get` and, since
 *   AuthorizePodWebsocketUpgradeCreatePermission (kubernetes/kubernetes#134577, beta in 1.35),
 *   additionally as `create`;
 * - `debug`: `patch`/`update` on `pods/ephemeralcontainers`, and `watch` on pods to see it start.
 */
function profileRules(profile: Profile): { namespaced: RbacRule[]; clusterScoped: RbacRule[] } {
  const namespaced = new RuleSet();
  const clusterScoped = new RuleSet();
  const resourceVerbs = (resources: readonly Resource[], ...verbs: string[]) => {
    for (const r of resources)
      (CLUSTER_SCOPED_RESOURCES.has(r) ? clusterScoped : namespaced).add(API_GROUP[r], r, ...verbs);
  };
  const { actions } = profile;
  if (actions.list) resourceVerbs(actions.list.resources, 'list', 'watch');
  if (actions.get) resourceVerbs(actions.get.resources, 'get');
  if (actions.logs || actions.exec || actions.shell || actions['port-forward'] || actions.debug) {
    namespaced.add('', 'pods', 'get');
  }
  if (actions.logs) namespaced.add('', 'pods/log', 'get');
  if (actions.exec || actions.shell) namespaced.add('', 'pods/exec', 'create', 'get');
  if (actions['port-forward']) namespaced.add('', 'pods/portforward', 'create', 'get');
  if (actions.debug) {
    namespaced.add('', 'pods', 'watch');
    namespaced.add('', 'pods/ephemeralcontainers', 'patch', 'update');
  }
  return { namespaced: namespaced.rules(), clusterScoped: clusterScoped.rules() };
}

/** Name of the Role / ClusterRole (and binding) that holds a profile's rights. */
export function profileRoleName(profile: string): string {
  return `airlock-jit-${profile}`;
}

function groupSubjects(groups: Iterable<string>): RbacSubject[] {
  return [...new Set(groups)].sort().map((name) => ({ kind: 'Group', apiGroup: RBAC_API, name }));
}

/**
 * The executor's ClusterRole rules: impersonation of exact names,
 * SubjectAccessReviews, nothing else. In `constrained` mode the identity
 * rules use `impersonate:user-info` on `authentication.k8s.io` (the group
 * the apiserver checks constrained identities in) and `actions` — the
 * rights a session may use, as the `jit:` groups' Roles grant them — become
 * `impersonate-on:user-info:<verb>` on the same resources; in `classic` mode
 * `actions` is unused.
 */
export function executorClusterRoleRules(
  groups: readonly string[],
  actions: readonly RbacRule[],
  impersonation: ImpersonationVerbs = 'constrained',
): RbacRule[] {
  const constrained = impersonation === 'constrained';
  const identityGroup = constrained ? 'authentication.k8s.io' : '';
  const identityVerb = constrained ? IMPERSONATE_USER_INFO : 'impersonate';
  const rules: RbacRule[] = [
    {
      apiGroups: [identityGroup],
      resources: ['users'],
      verbs: [identityVerb],
      resourceNames: [IMPERSONATED_USER],
    },
  ];
  // Never emit an empty resourceNames: RBAC reads it as "every group", system:masters included.
  if (groups.length > 0) {
    rules.push({
      apiGroups: [identityGroup],
      resources: ['groups'],
      verbs: [identityVerb],
      resourceNames: [...groups],
    });
  }
  rules.push({
    // The extra key is the subresource: `userextras/<key>` (values unrestricted: they name the person and ids).
    apiGroups: ['authentication.k8s.io'],
    resources: IMPERSONATION_EXTRA_KEYS.map((key) => `userextras/${key}`).sort(),
    verbs: [identityVerb],
  });
  if (constrained) {
    const onActions = new RuleSet();
    for (const rule of actions)
      for (const apiGroup of rule.apiGroups)
        for (const resource of rule.resources)
          onActions.add(apiGroup, resource, ...rule.verbs.map(impersonateOn));
    rules.push(...onActions.rules());
  }
  rules.push({ apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] });
  return rules;
}

/**
 * Classic impersonation of exact names (`impersonate` on `airlock:session`,
 * the groups and the extras) plus SubjectAccessReviews: the rules of a
 * per-request executor's ClusterRole in ephemeral mode
 * (services/broker/launcher), and what the broker's launcher must hold to
 * grant them. Not yet narrowed to `impersonate-on` verbs there (docs/admission.md).
 */
export function executorRules(groups: readonly string[]): RbacRule[] {
  return executorClusterRoleRules(groups, [], 'classic');
}

/** The executor's ClusterRole with `rules`, and its binding to the ServiceAccount. */
function executorObjects(
  rules: RbacRule[],
  sa: { readonly name: string; readonly namespace: string },
): RbacObject[] {
  return [
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRole',
      metadata: { name: EXECUTOR_ROLE_NAME, labels: LABELS },
      rules,
    },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRoleBinding',
      metadata: { name: EXECUTOR_ROLE_NAME, labels: LABELS },
      roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: EXECUTOR_ROLE_NAME },
      subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
    },
  ];
}

/**
 * Renders the RBAC objects for one cluster: the executor's ClusterRole and
 * ClusterRoleBinding, then per profile (by name) a ClusterRole and
 * ClusterRoleBinding for cluster-scoped resources (nodes, namespaces), then
 * per namespace (sorted) and profile a Role and RoleBinding granting the
 * profile's rendered `jit:` groups what its actions need.
 *
 * Throws AirlockError SCOPE_CLUSTER / SCOPE_NAMESPACE for a malformed cluster
 * or namespace name and CONFIG_INVALID for a malformed ServiceAccount.
 */
export function renderRbac(policy: Policy, options: RbacOptions): RbacObject[] {
  const { cluster, executorServiceAccount: sa } = options;
  if (!CLUSTER_NAME.test(cluster)) {
    throw new AirlockError('SCOPE_CLUSTER', `cluster "${cluster}" is not a valid cluster name`);
  }
  for (const ns of options.namespaces) {
    if (!NAMESPACE_NAME.test(ns)) {
      throw new AirlockError('SCOPE_NAMESPACE', `namespace "${ns}" is not a valid namespace name`);
    }
  }
  if (!NAMESPACE_NAME.test(sa.name) || !NAMESPACE_NAME.test(sa.namespace)) {
    throw new AirlockError('CONFIG_INVALID', `ServiceAccount ${sa.namespace}/${sa.name} is not a valid name`);
  }
  const namespaces = [...new Set(options.namespaces)].sort();
  const profileNames = Object.keys(policy.profiles).sort();
  const inScope = (profile: Profile) =>
    globMatchAny(profile.scope.clusters, cluster)
      ? namespaces.filter((ns) => globMatchAny(profile.scope.namespaces, ns))
      : [];

  const actions = profileNames
    .filter((name) => inScope(policy.profiles[name]!).length > 0)
    .flatMap((name) => Object.values(profileRules(policy.profiles[name]!)).flat());
  const executorGroups = jitGroupNames(policy, { clusters: [cluster], namespaces });
  const out: RbacObject[] = executorObjects(
    executorClusterRoleRules(executorGroups, actions, options.impersonation),
    sa,
  );

  const namespacedObjects: RbacObject[][] = namespaces.map(() => []);
  for (const name of profileNames) {
    const profile = policy.profiles[name]!;
    const { namespaced, clusterScoped } = profileRules(profile);
    const labels = { ...LABELS, 'airlock.dev/profile': name };
    const roleName = profileRoleName(name);
    const allGroups: string[] = [];
    for (const ns of inScope(profile)) {
      const groups = renderGroups(profile, { profile: name, cluster, namespace: ns });
      allGroups.push(...groups);
      if (namespaced.length === 0) continue;
      namespacedObjects[namespaces.indexOf(ns)]!.push(
        {
          apiVersion: RBAC_API_VERSION,
          kind: 'Role',
          metadata: { name: roleName, namespace: ns, labels },
          rules: namespaced,
        },
        {
          apiVersion: RBAC_API_VERSION,
          kind: 'RoleBinding',
          metadata: { name: roleName, namespace: ns, labels },
          roleRef: { apiGroup: RBAC_API, kind: 'Role', name: roleName },
          subjects: groupSubjects(groups),
        },
      );
    }
    if (clusterScoped.length > 0 && allGroups.length > 0) {
      out.push(
        {
          apiVersion: RBAC_API_VERSION,
          kind: 'ClusterRole',
          metadata: { name: roleName, labels },
          rules: clusterScoped,
        },
        {
          apiVersion: RBAC_API_VERSION,
          kind: 'ClusterRoleBinding',
          metadata: { name: roleName, labels },
          roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: roleName },
          subjects: groupSubjects(allGroups),
        },
      );
    }
  }
  for (const objects of namespacedObjects) out.push(...objects);
  return out;
}
