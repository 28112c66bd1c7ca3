/**
 * Group templates: the Kubernetes groups a session acts as.
 *
 * Only groups are templated, never user names: the executor impersonates the
 * person's own user name (or a fixed listed user) plus these groups. Every
 * template must begin with the literal `jit:` (validate.ts), so no rendering
 * can produce a `system:` group such as `system:masters`; `renderGroups`
 * re-checks the rendered names anyway, because the executor's RBAC can only
 * list exact `resourceNames` and must never be asked to impersonate a
 * built-in group.
 */
import { AirlockError } from '../errors.js';
import { globMatchAny } from './glob.js';
import type { Policy, Profile } from './types.js';

/** Placeholders a group template may use. */
export const GROUP_PLACEHOLDERS = ['namespace', 'cluster', 'profile'] as const;

/** RFC 1123 label, as Kubernetes requires for namespace names. */
export const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Cluster names: letters, digits, `-`, `_`, `.`; no `:` so they cannot forge a group prefix. */
export const CLUSTER_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Profile names (also the keys of `profiles`). */
export const PROFILE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** What a rendered group may contain. */
const GROUP_NAME = /^jit:[A-Za-z0-9:._-]+$/;

const PLACEHOLDER = /\{([^{}]*)\}/g;

export interface GroupScope {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
}

/** Problems with one template, independent of any scope (used by validate.ts). */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  if (!template.startsWith('jit:')) problems.push('group must start with the literal prefix "jit:"');
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(GROUP_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      problems.push(`unknown placeholder {${m[1]}}; use {namespace}, {cluster} or {profile}`);
    }
  }
  const rest = template.replace(PLACEHOLDER, 'x');
  if (rest.includes('{') || rest.includes('}')) problems.push('unbalanced "{" or "}"');
  else if (!GROUP_NAME.test(rest))
    problems.push('group may contain only letters, digits, ":", ".", "_" and "-"');
  return problems;
}

/**
 * Renders a profile's group templates for one scope. Throws AirlockError
 * (SCOPE_NAMESPACE / SCOPE_CLUSTER for a malformed name, POLICY_INVALID for a
 * template that renders to a forbidden group).
 */
export function renderGroups(profile: Profile, scope: GroupScope): string[] {
  if (!NAMESPACE_NAME.test(scope.namespace)) {
    throw new AirlockError('SCOPE_NAMESPACE', `namespace "${scope.namespace}" is not a valid namespace name`);
  }
  if (!CLUSTER_NAME.test(scope.cluster)) {
    throw new AirlockError('SCOPE_CLUSTER', `cluster "${scope.cluster}" is not a valid cluster name`);
  }
  if (!PROFILE_NAME.test(scope.profile)) {
    throw new AirlockError('PROFILE_UNKNOWN', `profile "${scope.profile}" is not a valid profile name`);
  }
  const values: Record<string, string> = {
    namespace: scope.namespace,
    cluster: scope.cluster,
    profile: scope.profile,
  };
  const out: string[] = [];
  for (const template of profile.groups) {
    const group = template.replace(PLACEHOLDER, (_, name: string) => values[name] ?? `{${name}}`);
    if (group.startsWith('system:') || !GROUP_NAME.test(group)) {
      throw new AirlockError('POLICY_INVALID', 'group template renders to a forbidden group name', {
        detail: `template ${template} rendered to ${group}`,
      });
    }
    if (!out.includes(group)) out.push(group);
  }
  return out;
}

/** The concrete clusters and namespaces of an environment. */
export interface GroupUniverse {
  readonly clusters: readonly string[];
  readonly namespaces: readonly string[];
}

/**
 * Every concrete group the policy can yield for the given clusters and
 * namespaces, sorted and without duplicates. RBAC `resourceNames` match
 * exactly, so the executor's impersonation rights are rendered from this list.
 */
export function jitGroupNames(policy: Policy, universe: GroupUniverse): string[] {
  const groups = new Set<string>();
  for (const [name, profile] of Object.entries(policy.profiles)) {
    for (const cluster of universe.clusters) {
      if (!globMatchAny(profile.scope.clusters, cluster) || !CLUSTER_NAME.test(cluster)) continue;
      for (const namespace of universe.namespaces) {
        if (!globMatchAny(profile.scope.namespaces, namespace) || !NAMESPACE_NAME.test(namespace)) continue;
        for (const g of renderGroups(profile, { profile: name, cluster, namespace })) groups.add(g);
      }
    }
  }
  return [...groups].sort();
}
