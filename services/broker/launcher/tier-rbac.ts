/**
 * RBAC of ephemeral mode, rendered from the policy:
 *
 * - per request: a ClusterRole + ClusterRoleBinding letting ONLY that
 *   request's executor ServiceAccount impersonate `airlock:session`, exactly
 *   the request's `jit:` groups (resourceNames), the `airlock.dev/*` extras,
 *   and create SubjectAccessReviews — the standing executor's rules
 *   (`executorRules`, services/core/policy/rbac.ts) for one request's groups.
 *   Impersonation of users and groups is authorized cluster-wide (there is no
 *   namespace in the check), so a Role cannot grant it; cluster-scoped
 *   objects cannot have a namespaced owner either, so the launcher deletes
 *   them itself and the sweep deletes leftovers.
 * - the broker's own launcher rights (deploy/components/ephemeral-tiers/):
 *   create/delete of exactly the kinds it makes in the airlock namespace, and
 *   create/delete/list of ClusterRoles and ClusterRoleBindings. Kubernetes'
 *   escalation rule lets a subject create a role, or bind one, only when it
 *   holds every permission the role grants (or has `escalate`/`bind`).
 *   `escalate`/`bind` cannot be narrowed to roles not yet named, so they
 *   would let the broker grant anything, cluster-admin included. Instead the
 *   broker holds the very rules the standing executor holds (impersonate
 *   `airlock:session`, the policy's `jit:` groups, the extras; create SARs):
 *   it can then grant a request's executor those rights and nothing else, and
 *   a request whose groups are outside that list fails closed (LAUNCH_FAILED).
 *
 * Pure: no I/O.
 */
import {
  executorRules,
  jitGroupNames,
  type Policy,
  type RbacObject,
  type RbacRule,
} from '../../core/policy/index.js';
import { type LaunchNames, launchLabels } from './launch-names.js';

const RBAC_API = 'rbac.authorization.k8s.io';
const RBAC_API_VERSION = `${RBAC_API}/v1` as const;

/** The per-request ClusterRole and ClusterRoleBinding of `names`' executor ServiceAccount in `namespace`. */
export function requestExecutorRbac(
  names: LaunchNames,
  namespace: string,
  groups: readonly string[],
): [RbacObject, RbacObject] {
  const labels = launchLabels(names.requestId, 'executor');
  return [
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRole',
      metadata: { name: names.clusterRole, labels },
      // executorRules never emits an empty resourceNames (that would mean every group).
      rules: executorRules(groups),
    },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRoleBinding',
      metadata: { name: names.clusterRole, labels },
      roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: names.clusterRole },
      subjects: [{ kind: 'ServiceAccount', name: names.tier.executor, namespace }],
    },
  ];
}

/** Name of the broker's launcher Role (airlock namespace) and ClusterRole, and their bindings. */
export const LAUNCHER_ROLE_NAME = 'airlock-broker-launcher';

/** Options of {@link renderLauncherRbac}. */
export interface LauncherRbacOptions {
  /** The cluster and the namespaces airlock serves (as for `airlock policy rbac`). */
  readonly cluster: string;
  readonly namespaces: readonly string[];
  /** The broker's ServiceAccount; its namespace is where the per-request objects live. */
  readonly brokerServiceAccount: { readonly name: string; readonly namespace: string };
}

/**
 * The rules of the broker's launcher Role in the airlock namespace. No get
 * or list of Secrets (the namespace holds the standing CAs' keys): Secrets
 * and the other owned kinds are removed by the garbage collector through
 * their ownerReferences; only the owner ConfigMaps and the pods are listed,
 * by the sweep (leftovers; a live request's missing pod).
 * RBAC cannot restrict `create` by name, nor `delete` by label.
 */
export function launcherNamespacedRules(): RbacRule[] {
  return [
    { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'delete', 'list'] },
    // list: the sweep finds a live request's pod that is gone (deleted, evicted) and replaces it.
    { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'list'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['create', 'delete'] },
    { apiGroups: [''], resources: ['services'], verbs: ['create', 'delete'] },
  ];
}

/** The rules of the broker's launcher ClusterRole: the per-request roles, and what they grant. */
export function launcherClusterRules(policy: Policy, options: LauncherRbacOptions): RbacRule[] {
  const groups = jitGroupNames(policy, { clusters: [options.cluster], namespaces: options.namespaces });
  return [
    {
      apiGroups: [RBAC_API],
      resources: ['clusterrolebindings', 'clusterroles'],
      verbs: ['create', 'delete', 'list'],
    },
    ...executorRules(groups),
  ];
}

/** The broker's launcher Role, ClusterRole and their bindings. */
export function renderLauncherRbac(policy: Policy, options: LauncherRbacOptions): RbacObject[] {
  const labels = {
    'app.kubernetes.io/part-of': 'airlock',
    // What deploy/components/standing-tiers removes: only ephemeral mode needs these rights.
    'airlock.dev/deploy-mode': 'ephemeral',
    'app.kubernetes.io/component': 'broker',
  };
  const sa = options.brokerServiceAccount;
  const subjects = [{ kind: 'ServiceAccount' as const, name: sa.name, namespace: sa.namespace }];
  return [
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'Role',
      metadata: { name: LAUNCHER_ROLE_NAME, namespace: sa.namespace, labels },
      rules: launcherNamespacedRules(),
    },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'RoleBinding',
      metadata: { name: LAUNCHER_ROLE_NAME, namespace: sa.namespace, labels },
      roleRef: { apiGroup: RBAC_API, kind: 'Role', name: LAUNCHER_ROLE_NAME },
      subjects,
    },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRole',
      metadata: { name: LAUNCHER_ROLE_NAME, labels },
      rules: launcherClusterRules(policy, options),
    },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRoleBinding',
      metadata: { name: LAUNCHER_ROLE_NAME, labels },
      roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: LAUNCHER_ROLE_NAME },
      subjects,
    },
  ];
}
