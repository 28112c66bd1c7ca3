/**
 * What `airlock policy rbac` renders and what the executor sends agree, for
 * every profile of docs/policy.example.json: the headers are read off a real
 * request option set of the executor's impersonation credentials, the RBAC
 * is `renderRbac`, the function behind the command.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { globMatchAny } from '../core/policy/glob.js';
import {
  EXECUTOR_ROLE_NAME,
  IMPERSONATE_USER_INFO,
  loadPolicy,
  profileRoleName,
  type RbacBinding,
  type RbacObject,
  type RbacRole,
  renderRbac,
  sessionGroups,
} from '../core/policy/index.js';
import { createImpersonationCredentials } from './kube-credentials.js';
import { unusedExecutorKubeConfig } from './testing.js';

const policy = loadPolicy(readFileSync('docs/policy.example.json', 'utf8'));
const CLUSTERS = ['dev', 'prod-eu', 'staging'];
const NAMESPACES = ['payments', 'shop'];
const sa = { name: 'airlock-executor', namespace: 'airlock-system' };

const executorKubeConfig = unusedExecutorKubeConfig;

/** The Impersonate-* headers the executor puts on a streaming request (exec, logs, port-forward). */
async function sentHeaders(groups: readonly string[]): Promise<Record<string, string | string[]>> {
  const credentials = createImpersonationCredentials(executorKubeConfig());
  const session = await credentials.open({
    sessionId: 'sess-1',
    user: 'alice@example.com',
    groups,
    requestId: 'req-1',
    expiresAt: new Date('2030-01-01T00:00:00Z'),
  });
  const opts: { headers?: Record<string, string | string[]> } = {};
  await session.clients({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }).streaming.applyToHTTPSOptions(opts);
  return Object.fromEntries(
    Object.entries(opts.headers ?? {}).filter(([name]) => name.startsWith('Impersonate-')),
  );
}

function executorRole(objects: readonly RbacObject[]): RbacRole {
  const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === EXECUTOR_ROLE_NAME);
  if (!role || !('rules' in role)) throw new Error('no executor ClusterRole');
  return role;
}

/** Identity verbs: classic `impersonate` and constrained `impersonate:user-info` (the default render). */
const identityVerb = (verbs: readonly string[]) =>
  verbs.includes('impersonate') || verbs.includes(IMPERSONATE_USER_INFO);

function impersonable(role: RbacRole, resource: string): string[] {
  return role.rules
    .filter((r) => identityVerb(r.verbs) && r.resources.includes(resource))
    .flatMap((r) => r.resourceNames ?? []);
}

const cases = Object.entries(policy.profiles).flatMap(([name, profile]) =>
  CLUSTERS.filter((c) => globMatchAny(profile.scope.clusters, c)).flatMap((cluster) =>
    NAMESPACES.filter((ns) => globMatchAny(profile.scope.namespaces, ns)).map(
      (namespace) => [name, cluster, namespace] as const,
    ),
  ),
);

describe('impersonation: rendered RBAC and sent headers agree (docs/policy.example.json)', () => {
  it('covers every profile of the example policy', () => {
    expect(new Set(cases.map(([name]) => name))).toEqual(new Set(Object.keys(policy.profiles)));
  });

  it.each(cases)('profile %s in cluster %s, namespace %s', async (name, cluster, namespace) => {
    const profile = policy.profiles[name]!;
    const groups = sessionGroups(profile, { profile: name, cluster, namespace, groups: [] });
    const headers = await sentHeaders(groups);
    const rendered = renderRbac(policy, { cluster, namespaces: NAMESPACES, executorServiceAccount: sa });
    const role = executorRole(rendered);

    // The user and every group sent are ones the executor's ClusterRole may impersonate.
    expect(impersonable(role, 'users')).toContain(headers['Impersonate-User']);
    const sentGroups = [headers['Impersonate-Group'] ?? []].flat();
    expect(sentGroups).toEqual(groups);
    expect(sentGroups.length).toBeGreaterThan(0);
    for (const group of sentGroups) expect(impersonable(role, 'groups')).toContain(group);

    // Every extra key sent is a `userextras/<key>` the ClusterRole grants.
    const extras = role.rules
      .filter((r) => r.apiGroups.includes('authentication.k8s.io') && identityVerb(r.verbs))
      .flatMap((r) => r.resources);
    const sentExtras = Object.keys(headers)
      .filter((h) => h.startsWith('Impersonate-Extra-'))
      .map((h) => `userextras/${decodeURIComponent(h.slice('Impersonate-Extra-'.length))}`);
    expect(sentExtras.length).toBe(4);
    for (const extra of sentExtras) expect(extras).toContain(extra);

    // The profile's own bindings name exactly the groups sent, so its rights reach the session.
    const bindings = rendered.filter(
      (o): o is RbacBinding =>
        'subjects' in o &&
        o.metadata.name === profileRoleName(name) &&
        (o.kind === 'ClusterRoleBinding' || o.metadata.namespace === namespace),
    );
    expect(bindings.length).toBeGreaterThan(0);
    for (const binding of bindings) {
      const subjects = binding.subjects.map((s) => s.name);
      for (const group of sentGroups) expect(subjects).toContain(group);
    }
  });
});
