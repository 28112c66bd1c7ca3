import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAdmission } from '../../services/core/policy/admission-render.js';
import { authorizeIntent, loadPolicy, renderRbac } from '../../services/core/policy/index.js';
import type { Scope } from '../../services/core/policy/types.js';
import {
  applyAdmission,
  askApiServer,
  askExec,
  deleteAdmission,
  type Identity,
} from '../support/admission.js';
import {
  adminKubeConfig,
  clusterInfo,
  createNamespace,
  createRunningPod,
  uniqueName,
} from '../support/kube.js';
import { corpusArgv, loadBypassCorpus } from './support/adversarial.js';

const CLUSTER = 'hermetic';
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'policy');

/**
 * bypass-policy.json with its scope narrowed to one namespace, a group of its
 * own per profile (so the API server can tell the profiles apart), and a
 * `debugger` profile for shells, port-forward and debug containers.
 */
function testPolicyText(namespace: string): string {
  const raw = JSON.parse(readFileSync(join(fixtures, 'bypass-policy.json'), 'utf8'));
  for (const [name, profile] of Object.entries<Record<string, unknown>>(raw.profiles)) {
    profile.scope = { clusters: [CLUSTER], namespaces: [namespace], pods: ['*'] };
    profile.groups = [`jit:${name}:{namespace}`];
  }
  raw.profiles.debugger = {
    groups: ['jit:debugger:{namespace}'],
    requesterGroups: ['devs'],
    scope: { clusters: [CLUSTER], namespaces: [namespace], pods: ['api-*'] },
    actions: {
      exec: {},
      shell: { argv: [['sh']] },
      'port-forward': { ports: [8080] },
      debug: { images: ['registry.example/debug:1'] },
    },
    commands: { matchBasename: false, allow: [{ argv: ['echo', '...'] }], deny: [] },
    approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 600 } },
  };
  return JSON.stringify(raw, null, 2);
}

describe('adversarial: the API server enforces the rendered admission policies (issue 23)', () => {
  const admin = adminKubeConfig();
  const namespace = uniqueName('vap');
  const text = testPolicyText(namespace);
  const policy = loadPolicy(text);
  const objects = renderAdmission(policy, { cluster: CLUSTER, policyText: text });
  const as = (profile: string): Identity => ({ user: 'alice', groups: [`jit:${profile}:${namespace}`] });
  const scope = (profile: string): Scope => ({ profile, cluster: CLUSTER, namespace, podPatterns: ['*'] });
  const tsAllows = (profile: string, pod: string, argv: readonly string[]) =>
    authorizeIntent(policy, scope(profile), { action: 'exec', namespace, pod, argv }).allow;

  beforeAll(async () => {
    await createNamespace(admin, namespace);
    const api = KubernetesObjectApi.makeApiClient(admin);
    const rbac = renderRbac(policy, {
      cluster: CLUSTER,
      namespaces: [namespace],
      executorServiceAccount: { name: 'airlock-executor', namespace },
    }).filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding');
    for (const o of rbac) await api.create(JSON.parse(JSON.stringify(o)) as KubernetesObject);
    // RBAC for attach, which no profile grants, so that admission (not RBAC) is what refuses it.
    await api.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'attach', namespace },
      rules: [
        {
          apiGroups: [''],
          resources: ['pods/attach', 'pods/exec', 'pods'],
          verbs: ['create', 'get', 'delete'],
        },
      ],
    } as KubernetesObject);
    await api.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'attach', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'attach' },
      subjects: ['lenient', 'debugger', 'nobody'].map((p) => ({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Group',
        name: `jit:${p}:${namespace}`,
      })),
    } as KubernetesObject);
    await createRunningPod(admin, namespace, 'api-0', [
      { name: 'app', command: ['sleep', '3600'], ports: [8080] },
    ]);
    await createRunningPod(admin, namespace, 'other-0', [{ name: 'app', command: ['sleep', '3600'] }]);
    await applyAdmission(admin, objects, async () => {
      const a = await askExec(admin, as('readers'), namespace, 'api-0', ['cat', '/proc/1/environ']);
      return a.refusedByPolicy;
    });
  });

  afterAll(async () => {
    await deleteAdmission(admin, objects);
  });

  const corpus = loadBypassCorpus();
  it.each(corpus.entries.map((e) => [e.name, e] as const))(
    'bypass corpus: %s is refused by the API server as by authorizeIntent',
    async (_name, entry) => {
      const profile = entry.profile ?? corpus.scope.profile;
      const argv = corpusArgv(entry);
      expect(tsAllows(profile, 'api-0', argv)).toBe(false);
      // A lone surrogate cannot cross HTTP: the URL carries U+FFFD instead, and that argv is compared.
      const sent = argv.map((a) =>
        a.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'),
      );
      const answer = await askExec(admin, as(profile), namespace, 'api-0', sent);
      expect(answer.refusedByPolicy).toBe(!tsAllows(profile, 'api-0', sent));
    },
  );

  const arg = fc.oneof(
    fc.constantFrom(
      'sh',
      '/bin/sh',
      '..',
      '-c',
      '-i',
      '',
      'aux',
      '/proc/1/environ',
      '/proc/self/root/proc/1/environ',
      'environ',
      '/tmp/environ',
      '--file=/proc/1/environ',
      '/var/run/secrets/kubernetes.io/serviceaccount/token',
      '../token',
      '/etc//passwd',
      '-exec',
      '--to-command=sh',
      'python3',
      'x sh',
      'a=b',
      '/proc/1/cwd/../environ',
    ),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
  );
  const argv0 = fc.constantFrom(
    'ps',
    'ls',
    'cat',
    '/bin/cat',
    'grep',
    'find',
    'tar',
    'env',
    'timeout',
    'echo',
    'sh',
    'bash',
    'sed',
    'curl',
  );
  const argvArb = fc.tuple(argv0, fc.array(arg, { maxLength: 5 })).map(([a0, rest]) => [a0, ...rest]);

  it('property: whatever authorizeIntent refuses, the API server refuses; without deny rules they agree exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('lenient', 'readers'), argvArb, async (profile, argv) => {
        const allowed = tsAllows(profile, 'api-0', argv);
        const answer = await askExec(admin, as(profile), namespace, 'api-0', argv);
        if (!allowed) expect(answer.refusedByPolicy).toBe(true);
        // `lenient` has no deny rules: only deny-rule readings are approximated (docs/admission.md).
        if (profile === 'lenient') expect(answer.refusedByPolicy).toBe(!allowed);
      }),
      { numRuns: 150 },
    );
  });

  it('an allowed command runs for real through kubectl exec; a refused one does not', () => {
    const kubectl = (argv: string[]) =>
      spawnSync(
        clusterInfo().kubectlPath,
        [
          '--kubeconfig',
          clusterInfo().kubeconfigPath,
          'exec',
          '-n',
          namespace,
          'api-0',
          '--as',
          'alice',
          '--as-group',
          `jit:lenient:${namespace}`,
          '--',
          ...argv,
        ],
        { encoding: 'utf8' },
      );
    const ok = kubectl(['echo', 'admitted']);
    expect(ok.stdout).toBe('admitted\n');
    const refused = kubectl(['sh', '-c', 'echo bypassed']);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('airlock: COMMAND_NOT_ALLOWED');
  });

  it('refuses a pod outside the profile, attach, and shells the profile does not list', async () => {
    const other = await askExec(admin, as('debugger'), namespace, 'other-0', ['echo', 'x']);
    expect(other.body).toContain('airlock: SCOPE_POD');
    const attach = await askApiServer(
      admin,
      as('debugger'),
      `/api/v1/namespaces/${namespace}/pods/api-0/attach`,
      [['stdout', 'true']],
    );
    expect(attach.body).toContain('airlock: ACTION_NOT_ALLOWED');
    expect((await askExec(admin, as('debugger'), namespace, 'api-0', ['sh'])).refusedByPolicy).toBe(false);
    expect((await askExec(admin, as('debugger'), namespace, 'api-0', ['bash'])).body).toContain(
      'COMMAND_NOT_ALLOWED',
    );
    expect((await askExec(admin, as('lenient'), namespace, 'api-0', ['sh'])).body).toContain(
      'COMMAND_NOT_ALLOWED',
    );
  });

  it('refuses a port the profile does not list when the request names it; a group of no profile is refused', async () => {
    const pf = (ports: string) =>
      askApiServer(admin, as('debugger'), `/api/v1/namespaces/${namespace}/pods/api-0/portforward`, [
        ['ports', ports],
      ]);
    expect((await pf('9999')).body).toContain('airlock: PORT_NOT_ALLOWED');
    expect((await pf('8080')).refusedByPolicy).toBe(false);
    const stranger = await askExec(
      admin,
      { user: 'alice', groups: [`jit:nobody:${namespace}`] },
      namespace,
      'api-0',
      ['echo'],
    );
    expect(stranger.body).toContain('airlock: SCOPE_NAMESPACE');
  });

  it('debug containers: only allowed images, no added capabilities', async () => {
    const debug = (name: string, image: string, securityContext?: object) =>
      askApiServer(
        admin,
        as('debugger'),
        `/api/v1/namespaces/${namespace}/pods/api-0/ephemeralcontainers`,
        [],
        {
          spec: { ephemeralContainers: [{ name, image, command: ['sleep', '1'], securityContext }] },
        },
      );
    expect((await debug('d1', 'busybox:latest')).body).toContain('airlock: IMAGE_NOT_ALLOWED');
    const caps = await debug('d2', 'registry.example/debug:1', { capabilities: { add: ['SYS_ADMIN'] } });
    expect(caps.body).toContain('airlock: IMAGE_NOT_ALLOWED');
    const ok = await debug('d3', 'registry.example/debug:1');
    expect(ok.status).toBe(200);
  });

  it('jit: groups may change nothing else (the seed write rule), even where RBAC allows it', async () => {
    // The attach Role above grants `delete pods`; the write rule refuses it.
    const del = await askApiServer(
      admin,
      as('debugger'),
      `/api/v1/namespaces/${namespace}/pods/api-0`,
      [['dryRun', 'All']],
      undefined,
      'DELETE',
    );
    expect(del.body).toContain('airlock: ACTION_NOT_ALLOWED: jit: groups may only exec');
    const admin2 = await askApiServer(
      admin,
      { user: 'alice', groups: [`jit:debugger:${namespace}`, 'system:masters'] },
      `/api/v1/namespaces/${namespace}/configmaps`,
      [['dryRun', 'All']],
      { metadata: { name: 'x' } },
      'POST',
    );
    expect(admin2.body).toContain('airlock: ACTION_NOT_ALLOWED');
  });
});
