import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  AuthorizationV1Api,
  CoreV1Api,
  loadAllYaml,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { adminKubeConfig, clusterInfo } from '../support/kube.js';

interface PodSpecJson {
  securityContext?: Record<string, unknown>;
  containers: { securityContext?: Record<string, unknown> }[];
}

function kubectl(args: string[]) {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  return spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
}

describe('deploy/: the manifests against a real kube-apiserver', () => {
  const admin = adminKubeConfig();

  beforeAll(async () => {
    // The example policy's Roles live in `payments`; a real cluster has it already.
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: 'payments' } } })
      .catch(() => {});
  });

  afterAll(() => {
    // The applied CSR approval webhook has no running pod here (no images in the hermetic
    // cluster) and fails closed, so it would refuse the airlock-broker ServiceAccount's
    // approvals in later test files (kube-credentials.test.ts). Remove it; the rest stays.
    kubectl(['delete', 'validatingwebhookconfiguration', 'airlock-csr-approval', '--ignore-not-found']);
  });

  it.each(['dev', 'prod'])(
    'the %s overlay passes a server-side dry run, then applies for real',
    (overlay) => {
      const dir = join(repoRoot(), 'deploy', 'overlays', overlay);
      // Namespaced objects need their namespace: create it first (idempotent).
      const namespace = kubectl(['apply', '-f', join(repoRoot(), 'deploy', 'base', 'namespace.yaml')]);
      expect(namespace.stderr).toBe('');
      const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
      expect(dryRun.stderr).toBe('');
      expect(dryRun.status).toBe(0);
      // dev opts into standing mode (components/standing-tiers); prod is base's ephemeral mode.
      const deployment = overlay === 'dev' ? 'airlock-executor' : 'airlock-door';
      expect(dryRun.stdout).toMatch(
        new RegExp(`deployment\\.apps/${deployment} (created|configured|unchanged) \\(server dry run\\)`),
      );
      const applied = kubectl(['apply', '-k', dir]);
      expect(applied.stderr).toBe('');
      expect(applied.status).toBe(0);
    },
  );

  it('the dev-ephemeral overlay (ephemeral-tiers + door) passes a server-side dry run', () => {
    // Dry run only: applied, it would put the broker of the later tests into ephemeral mode.
    const dir = join(repoRoot(), 'deploy', 'overlays', 'dev-ephemeral');
    const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.status).toBe(0);
    for (const object of [
      'deployment.apps/airlock-door',
      'clusterrole.rbac.authorization.k8s.io/airlock-broker-launcher',
      'configmap/airlock-policy ',
    ]) {
      expect(dryRun.stdout).toContain(object);
    }
  });

  it('gives the mediator no token and no rights, and the broker only its CSR signer', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const mediatorSa = await core.readNamespacedServiceAccount({
      namespace: 'airlock-system',
      name: 'airlock-mediator',
    });
    expect(mediatorSa.automountServiceAccountToken).toBe(false);
    const deployment = JSON.parse(
      kubectl(['get', 'deployment', '-n', 'airlock-system', 'airlock-mediator', '-o', 'json']).stdout,
    );
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(false);

    const authz = admin.makeApiClient(AuthorizationV1Api);
    const can = async (sa: string, attributes: V1ResourceAttributes) => {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:airlock-system:${sa}`,
            groups: [
              'system:serviceaccounts',
              'system:serviceaccounts:airlock-system',
              'system:authenticated',
            ],
            resourceAttributes: attributes,
          },
        },
      });
      return review.status?.allowed === true;
    };
    for (const attributes of [
      { namespace: 'payments', verb: 'list', resource: 'pods' },
      { namespace: 'payments', verb: 'create', resource: 'pods', subresource: 'exec' },
      { namespace: 'airlock-system', verb: 'get', resource: 'secrets' },
      { verb: 'create', group: 'certificates.k8s.io', resource: 'certificatesigningrequests' },
    ]) {
      expect(await can('airlock-mediator', attributes)).toBe(false);
      // The CSR approval webhook makes no Kubernetes call: no token, no rights either.
      expect(await can('airlock-admission', attributes)).toBe(false);
    }
    const admissionSa = await core.readNamespacedServiceAccount({
      namespace: 'airlock-system',
      name: 'airlock-admission',
    });
    expect(admissionSa.automountServiceAccountToken).toBe(false);
    expect(
      await can('airlock-broker', {
        verb: 'create',
        group: 'certificates.k8s.io',
        resource: 'certificatesigningrequests',
      }),
    ).toBe(true);
    expect(
      await can('airlock-broker', {
        verb: 'approve',
        group: 'certificates.k8s.io',
        resource: 'signers',
        name: 'kubernetes.io/kube-apiserver-client',
      }),
    ).toBe(true);
    expect(
      await can('airlock-broker', {
        verb: 'approve',
        group: 'certificates.k8s.io',
        resource: 'signers',
        name: 'kubernetes.io/kubelet-serving',
      }),
    ).toBe(false);
    expect(await can('airlock-broker', { namespace: 'payments', verb: 'list', resource: 'pods' })).toBe(
      false,
    );
    expect(
      await can('airlock-broker', { namespace: 'airlock-system', verb: 'get', resource: 'secrets' }),
    ).toBe(false);
  });

  it('the executor-csr component builds on the standing base: csr-mode RBAC and config in, impersonation rights out, server dry run passes', () => {
    // An overlay as an operator would write it (kustomize wants relative paths).
    const dir = mkdtempSync(join(tmpdir(), 'airlock-overlay-'));
    try {
      const deploy = join(repoRoot(), 'deploy');
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [${relative(dir, join(deploy, 'base'))}]\ncomponents: [${relative(dir, join(deploy, 'components', 'standing-tiers'))}, ${relative(dir, join(deploy, 'components', 'executor-csr'))}]\n`,
      );
      const built = kubectl(['kustomize', dir]);
      expect(built.stderr).toBe('');
      const objects = loadAllYaml(built.stdout) as { kind: string; metadata: { name: string } }[];
      const named = (kind: string, name: string) =>
        objects.some((o) => o.kind === kind && o.metadata.name === name);
      expect(named('ClusterRole', 'airlock-executor-csr')).toBe(true);
      expect(named('ClusterRoleBinding', 'airlock-executor-csr')).toBe(true);
      expect(named('ClusterRole', 'airlock-executor')).toBe(false);
      expect(named('ClusterRoleBinding', 'airlock-executor')).toBe(false);
      // The jit: group Roles stay: the certificates carry those groups.
      expect(named('Role', 'airlock-jit-oncall-debug')).toBe(true);
      expect(built.stdout).toContain('"kubeCredentials": "csr"');
      const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
      expect(dryRun.stderr).toBe('');
      expect(dryRun.stdout).toMatch(
        /clusterrole\.rbac\.authorization\.k8s\.io\/airlock-executor-csr (created|configured|unchanged) \(server dry run\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the broker-postgres component: two replicas, rolling updates, a PDB, no SQLite volume; server dry run passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-overlay-'));
    try {
      const deploy = join(repoRoot(), 'deploy');
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [${relative(dir, join(deploy, 'base'))}]\ncomponents: [${relative(dir, join(deploy, 'components', 'broker-postgres'))}]\n`,
      );
      const built = kubectl(['kustomize', dir]);
      expect(built.stderr).toBe('');
      // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest, read field by field
      const objects = loadAllYaml(built.stdout) as any[];
      const broker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airlock-broker');
      expect([broker.spec.replicas, broker.spec.strategy.type]).toEqual([2, 'RollingUpdate']);
      const volumes = broker.spec.template.spec.volumes;
      expect(volumes.find((v: { name: string }) => v.name === 'state')).toEqual({
        name: 'state',
        emptyDir: {},
      });
      expect(volumes.find((v: { name: string }) => v.name === 'database').secret.secretName).toBe(
        'airlock-broker-database',
      );
      const pdb = objects.find(
        (o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'airlock-broker',
      );
      expect(pdb.spec.minAvailable).toBe(1);
      expect(objects.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
      expect(built.stdout).toContain('"urlFile": "/etc/airlock/database/url"');
      const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
      expect(dryRun.stderr).toBe('');
      expect(dryRun.stdout).toMatch(
        /deployment\.apps\/airlock-broker (created|configured|unchanged) \(server dry run\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the audit-shipping component (standing mode): an audit agent (a native sidecar) in every tier pod on its state volume, the store with its claim; server dry run passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-overlay-'));
    try {
      const deploy = join(repoRoot(), 'deploy');
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [${relative(dir, join(deploy, 'base'))}]\ncomponents: [${relative(dir, join(deploy, 'components', 'standing-tiers'))}, ${relative(dir, join(deploy, 'components', 'audit-shipping'))}]\n`,
      );
      const built = kubectl(['kustomize', dir]);
      expect(built.stderr).toBe('');
      // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest, read field by field
      const objects = loadAllYaml(built.stdout) as any[];
      for (const tier of ['airlock-broker', 'airlock-mediator', 'airlock-executor']) {
        const pod = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === tier).spec.template
          .spec;
        // A native sidecar: started before the tier, stopped after it (so it can ship the close checkpoint).
        const agent = pod.initContainers.find((c: { name: string }) => c.name === 'audit-agent');
        expect(agent.restartPolicy).toBe('Always');
        expect(pod.containers.map((c: { name: string }) => c.name)).not.toContain('audit-agent');
        expect(agent.volumeMounts).toContainEqual({ name: 'state', mountPath: '/var/lib/airlock' });
        expect(agent.env).toContainEqual({ name: 'AIRLOCK_AUDIT_DIR', value: '/var/lib/airlock/audit' });
      }
      const store = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airlock-audit-store');
      expect(store.spec.template.spec.volumes).toContainEqual({
        name: 'store',
        persistentVolumeClaim: { claimName: 'airlock-audit-store' },
      });
      const dryRun = kubectl(['apply', '--dry-run=server', '-k', dir]);
      expect(dryRun.stderr).toBe('');
      expect(dryRun.stdout).toMatch(
        /deployment\.apps\/airlock-audit-store (created|configured|unchanged) \(server dry run\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers the CSR approval webhook for approvals by airlock-system ServiceAccounts, failing closed (finding 2)', () => {
    const configuration = JSON.parse(
      kubectl(['get', 'validatingwebhookconfiguration', 'airlock-csr-approval', '-o', 'json']).stdout,
    ) as { webhooks: Record<string, unknown>[] };
    expect(configuration.webhooks).toHaveLength(1);
    expect(configuration.webhooks[0]).toMatchObject({
      name: 'csr-approval.airlock.dev',
      failurePolicy: 'Fail',
      sideEffects: 'None',
      clientConfig: {
        service: { namespace: 'airlock-system', name: 'airlock-admission', path: '/csr-approval', port: 443 },
      },
      rules: [
        {
          apiGroups: ['certificates.k8s.io'],
          apiVersions: ['v1'],
          operations: ['UPDATE'],
          resources: ['certificatesigningrequests/approval'],
          scope: 'Cluster',
        },
      ],
      matchConditions: [
        {
          name: 'airlock-identities',
          expression: "request.userInfo.groups.exists(g, g == 'system:serviceaccounts:airlock-system')",
        },
      ],
    });
  });

  it('runs every tier under the restricted Pod Security profile', () => {
    const pods = JSON.parse(kubectl(['get', 'deployments', '-n', 'airlock-system', '-o', 'json']).stdout) as {
      items: { metadata: { name: string }; spec: { template: { spec: PodSpecJson } } }[];
    };
    // dev's standing tiers and prod's jump door (ephemeral mode), both applied above.
    expect(pods.items.map((d) => d.metadata.name).sort()).toEqual([
      'airlock-admission',
      'airlock-broker',
      'airlock-door',
      'airlock-executor',
      'airlock-mediator',
    ]);
    for (const deployment of pods.items) {
      const spec = deployment.spec.template.spec;
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const container of spec.containers) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
    // The namespace enforces it: a pod with default (unhardened) settings is refused by the apiserver.
    const refused = kubectl([
      'run',
      'unhardened-probe',
      '-n',
      'airlock-system',
      '--image=example.invalid/x',
      '--dry-run=server',
    ]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted');
  });

  it('mounts every Secret 0400 into pods whose fsGroup is their own group, so the kubelet makes key files root:<gid> 0440, the one shape the tiers accept', () => {
    // Read back from the apiserver: this is how kubectl's YAML 1.1 parsing of `0400` arrived.
    const deployments = JSON.parse(
      kubectl(['get', 'deployments', '-n', 'airlock-system', '-o', 'json']).stdout,
    ) as {
      items: {
        metadata: { name: string };
        spec: {
          template: {
            spec: {
              securityContext: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
              volumes: { name: string; secret?: { defaultMode?: number } }[];
            };
          };
        };
      }[];
    };
    expect(deployments.items).toHaveLength(5);
    for (const { metadata, spec } of deployments.items) {
      const { securityContext, volumes } = spec.template.spec;
      expect({ name: metadata.name, ...securityContext }).toMatchObject({
        name: metadata.name,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
      });
      const secrets = volumes.filter((v) => v.secret !== undefined);
      expect(secrets.length).toBeGreaterThan(0);
      for (const volume of secrets) {
        expect({ deployment: metadata.name, volume: volume.name, mode: volume.secret?.defaultMode }).toEqual({
          deployment: metadata.name,
          volume: volume.name,
          mode: 0o400,
        });
      }
    }
  });
});
