import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { executorClusterRoleRules, type RbacRule } from '../../services/core/policy/index.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import type { KubeCredentialMode } from '../../services/executor/kube-credentials.js';
import { adminKubeConfig, clusterInfo } from './kube.js';

/*
 * The executor's own Kubernetes identity in the tests: a ServiceAccount with
 * the rendered (constrained impersonation) or shipped (csr mode) ClusterRole,
 * and the `jit-debug` Roles of the test groups. Re-exported by executor-harness.ts.
 */

/** The rules of the shipped csr-mode ClusterRole (deploy/components/executor-csr), as they are. */
export function shippedCsrModeRules(): V1PolicyRule[] {
  const file = join(repoRoot(), 'deploy', 'components', 'executor-csr', 'executor-csr-rbac.yaml');
  const role = (loadAllYaml(readFileSync(file, 'utf8')) as { kind: string }[]).find(
    (o): o is V1ClusterRole & { kind: string } => o.kind === 'ClusterRole',
  );
  if (!role?.rules) throw new Error(`no ClusterRole in ${file}`);
  return role.rules;
}

/** What the test `jit:` groups may do in each namespace (the `jit-debug` Role). */
const JIT_DEBUG_RULES: V1PolicyRule[] = [
  { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods/exec', 'pods/portforward'], verbs: ['create', 'get'] },
  { apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['update', 'patch'] },
];

/**
 * The executor's own rights in each credentials mode (`none`: nothing at
 * all). Impersonation mode uses the rendered ClusterRole's rules
 * (`executorClusterRoleRules`, constrained impersonation by default) for the
 * groups' `jit-debug` rights, so every executor test runs with the narrowed role.
 */
function executorRules(
  mode: KubeCredentialMode | 'none',
  groups: string[],
  extraActions: readonly RbacRule[],
): V1PolicyRule[] {
  if (mode === 'none') return [];
  if (mode === 'csr') return shippedCsrModeRules();
  const actions = [
    ...JIT_DEBUG_RULES.map((r) => ({ apiGroups: r.apiGroups!, resources: r.resources!, verbs: r.verbs })),
    ...extraActions,
  ];
  return executorClusterRoleRules(groups, actions).map((r) => ({ ...r }) as V1PolicyRule);
}

/**
 * The executor's own Kubernetes identity for tests: a ServiceAccount that
 * (impersonation mode) may impersonate only `airlock:session`, the given jit:
 * groups and the airlock extras, or (csr mode) holds exactly the shipped
 * csr-mode ClusterRole and no impersonation; plus Roles granting those groups
 * pod access in `namespaces`.
 */
export async function executorKubeConfig(
  suffix: string,
  groups: string[],
  rbacNamespaces: string[],
  mode: KubeCredentialMode | 'none' = 'impersonation',
  /**
   * Rights a test grants its groups beyond `jit-debug` (its own Roles): the
   * executor may then act on them while impersonating (constrained mode).
   */
  extraActions: readonly RbacRule[] = [],
): Promise<KubeConfig> {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const namespace = rbacNamespaces[0]!;
  const sa = `airlock-executor-${suffix}`;
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } });
  await rbac.createClusterRole({
    body: { metadata: { name: sa }, rules: executorRules(mode, groups, extraActions) },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: sa },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  });
  for (const ns of rbacNamespaces) {
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'jit-debug' }, rules: JIT_DEBUG_RULES },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'jit-debug' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jit-debug' },
        subjects: groups.map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
      },
    });
  }
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name: sa,
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name: sa, token: token.status?.token }],
    contexts: [{ name: 'executor', cluster: 'hermetic', user: sa }],
    currentContext: 'executor',
  });
  return kc;
}
