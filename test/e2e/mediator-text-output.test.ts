/**
 * What a person sees over the stock OpenSSH client in text mode: `describe`
 * as a readable description, one object as YAML, a list of deployments as a
 * table — never pretty-printed JSON whose newlines the terminal sanitiser
 * escaped into one line.
 */
import { AppsV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  startGateway,
  testPolicy,
} from '../support/executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from '../support/kube.js';
import { type Mediator, ssh, sshUser, startMediator } from '../support/mediator-harness.js';

describe('mediator text output over ssh', () => {
  const suffix = uniqueName('txt');
  const payments = `payments-${suffix}`;
  const group = `jit:reader:${payments}`;
  let gateway: Gateway;
  let mediator: Mediator;
  const scope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'reader',
    requestId: 'req-text',
    groups: [],
  };

  beforeAll(async () => {
    const admin = adminKubeConfig();
    await createNamespace(admin, payments);
    await createRunningPod(admin, payments, 'api-0', [{ name: 'main' }]);
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: payments,
      body: {
        metadata: { name: 'api' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'api' } },
          template: {
            metadata: { labels: { app: 'api' } },
            spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] },
          },
        },
      },
    });
    // A profile that may also list deployments; RBAC grants the session's group the same.
    const policy = testPolicy([payments], {
      reader: {
        groups: ['jit:reader:{namespace}'],
        requesterGroups: ['oncall'],
        maxTtlSeconds: 3600,
        scope: { clusters: [CLUSTER_NAME], namespaces: [payments], pods: ['api-*'] },
        actions: { list: { resources: ['pods', 'deployments'] }, get: { resources: ['pods'] } },
        approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 3600 } },
      },
    });
    const readDeployments = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] };
    gateway = await startGateway(
      policy,
      await executorKubeConfig(suffix, [group], [payments], 'impersonation', [readDeployments]),
    );
    await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRole({
      namespace: payments,
      body: {
        metadata: { name: 'read-deployments' },
        rules: [readDeployments],
      },
    });
    await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
      namespace: payments,
      body: {
        metadata: { name: 'read-deployments' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-deployments' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
      },
    });
    mediator = await startMediator(gateway, policy);
  });

  afterAll(async () => {
    await mediator?.stop();
    await gateway?.stop();
  });

  it('describes a pod on readable lines', async () => {
    const result = await ssh(mediator, sshUser(gateway.sshCa, { scope }), ['describe', 'api-0']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('\\x0a');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('Name:             api-0');
    expect(lines[1]).toBe(`Namespace:        ${payments}`);
    expect(lines).toContain('Containers:');
    expect(lines).toContain('  main:');
    expect(lines.some((l) => /^Status: +Running$/.test(l))).toBe(true);
  });

  it('shows one pod as YAML that reads back as the object JSON gives', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const yaml = await ssh(mediator, user, ['get', 'pods', 'api-0']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).not.toContain('\\x0a');
    expect(yaml.stdout.split('\n').slice(0, 2)).toEqual(['apiVersion: v1', 'kind: Pod']);
    const json = await ssh(mediator, user, ['get', 'pods', 'api-0', '-o', 'json']);
    // The same object (its status and resourceVersion may move on between the two reads).
    type Pod = { metadata: { uid: string; creationTimestamp: string; labels?: unknown }; spec: unknown };
    const [fromYaml, fromJson] = [load(yaml.stdout) as Pod, JSON.parse(json.stdout) as Pod];
    expect(fromYaml.metadata.uid).toBe(fromJson.metadata.uid);
    expect(fromYaml.metadata.creationTimestamp).toBe(fromJson.metadata.creationTimestamp);
    expect(fromYaml.spec).toEqual(fromJson.spec);
  });

  it('lists deployments as a table', async () => {
    const result = await ssh(mediator, sshUser(gateway.sshCa, { scope }), ['get', 'deploy']);
    expect(result.code).toBe(0);
    const [header, row, end] = result.stdout.split('\n');
    expect(header).toMatch(/^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$/);
    expect(row).toMatch(/^api +\d\/2 +\d +\d +\d+s$/);
    expect(end).toBe('');
  });

  it('takes -o json after the command; ssh itself refuses it before the command', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const after = await ssh(mediator, user, ['pods', '-o', 'json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ items: [{ metadata: { name: 'api-0' } }] });
    const dashDash = await ssh(mediator, user, ['--', '--output', 'json', 'pods']);
    expect(dashDash.code).toBe(0);
    const names = (out: string) =>
      (JSON.parse(out) as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name);
    expect(names(dashDash.stdout)).toEqual(names(after.stdout));
    // What docs/commands.md warns about: ssh reads these as its own options and never connects.
    const before = await ssh(mediator, user, ['-o', 'json', 'pods']);
    expect(before.code).toBe(255);
    expect(before.stderr).toContain('no argument after keyword "json"');
  });

  it('points a misplaced or missing output format to the form that works', async () => {
    const user = sshUser(gateway.sshCa, { scope });
    const missing = await ssh(mediator, user, ['pods', '-o']);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain(
      "airlock: USAGE: flag '-o' needs a value (json or text; over ssh, put it after the command (ssh gw pods -o json)",
    );
  });

  it.each([
    ['podz', 'pods'],
    ['exce', 'exec'],
  ])('suggests the command meant by %s', async (typed, meant) => {
    const result = await ssh(mediator, sshUser(gateway.sshCa, { scope }), [typed, 'api-0']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(`airlock: USAGE: unknown command '${typed}'; did you mean '${meant}'?`);
  });
});
