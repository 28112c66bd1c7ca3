/**
 * deploy/components/ephemeral-tiers stays in step with the code: its broker
 * config is the base config plus the `launcher` block and validates, and its
 * launcher RBAC is exactly what renderLauncherRbac renders for the example
 * policy (cluster dev, namespace payments, as base/executor-rbac.yaml), and
 * it mounts the host CA Secret where the config says the key is.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { loadBrokerConfig } from '../config.js';
import { launchNames } from './launch-names.js';
import { tierPod } from './tier-pods.js';
import { renderLauncherRbac } from './tier-rbac.js';

const deploy = (...parts: string[]) => join(repoRoot(), 'deploy', ...parts);

const component = (file: string) => readFileSync(deploy('components', 'ephemeral-tiers', file), 'utf8');

describe('deploy/components/ephemeral-tiers', () => {
  it('is the base broker config with launcher mode ephemeral, and it validates', () => {
    const component = deploy('components', 'ephemeral-tiers', 'broker.json');
    const { launcher, ...rest } = JSON.parse(readFileSync(component, 'utf8'));
    expect(rest).toEqual(JSON.parse(readFileSync(deploy('base', 'config', 'broker.json'), 'utf8')));
    expect(loadBrokerConfig(component).launcher).toEqual({ ...launcher, sweepSeconds: 30 });
    expect(launcher.mode).toBe('ephemeral');
  });

  it('deploy/overlays/dev-ephemeral: the dev broker config with a launcher block for cluster dev and the :dev images', () => {
    const overlay = deploy('overlays', 'dev-ephemeral', 'config', 'broker.json');
    const { launcher, ...rest } = JSON.parse(readFileSync(overlay, 'utf8'));
    expect(rest).toEqual(
      JSON.parse(readFileSync(deploy('overlays', 'dev', 'config', 'broker.json'), 'utf8')),
    );
    const loaded = loadBrokerConfig(overlay);
    expect(loaded.launcher).toEqual(launcher);
    expect(launcher).toMatchObject({
      mode: 'ephemeral',
      cluster: loaded.kubeCertificates?.cluster,
      images: { mediator: 'airlock-mediator:dev', executor: 'airlock-executor:dev' },
    });
    // The host CA where ephemeral-tiers mounts it.
    const component = JSON.parse(
      readFileSync(deploy('components', 'ephemeral-tiers', 'broker.json'), 'utf8'),
    );
    expect(launcher.hostCa).toEqual(component.launcher.hostCa);
  });

  it('ships exactly the rendered launcher RBAC', () => {
    const shipped = loadAllYaml(
      readFileSync(deploy('components', 'ephemeral-tiers', 'launcher-rbac.yaml'), 'utf8'),
    );
    const rendered = renderLauncherRbac(
      loadPolicy(readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8')),
      {
        cluster: 'dev',
        namespaces: ['payments'],
        brokerServiceAccount: { name: 'airlock-broker', namespace: 'airlock-system' },
      },
    );
    expect(JSON.parse(JSON.stringify(shipped))).toEqual(JSON.parse(JSON.stringify(rendered)));
  });

  it("its NetworkPolicies select the launcher's pods by their labels and name their ports", () => {
    interface Peer {
      podSelector?: { matchLabels: Record<string, string> };
    }
    interface Policy {
      metadata: { name: string };
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress?: { from: Peer[]; ports: { port: string | number }[] }[];
        egress?: { to?: Peer[]; ports: { port: string | number }[] }[];
      };
    }
    // js-yaml, not client-node's loadAllYaml: that one renames `from` to `_from`.
    const policies = yaml.loadAll(component('ephemeral-networkpolicy.yaml')) as Policy[];
    const names = launchNames('req-0123456789abcdef0123');
    const pod = (tier: 'mediator' | 'executor') =>
      tierPod(tier, { names, image: 'x', activeDeadlineSeconds: 600 });
    const selects = (selector: { matchLabels: Record<string, string> }, tier: 'mediator' | 'executor') =>
      Object.entries(selector.matchLabels).every(([k, v]) => pod(tier).metadata?.labels?.[k] === v);
    const byName = Object.fromEntries(policies.map((p) => [p.metadata.name, p.spec]));
    const ingress = byName['airlock-ephemeral-executor-ingress']!;
    expect(selects(ingress.podSelector, 'executor')).toBe(true);
    expect(selects(ingress.podSelector, 'mediator')).toBe(false);
    expect(selects(ingress.ingress![0]!.from[0]!.podSelector!, 'mediator')).toBe(true);
    const ports = (tier: 'mediator' | 'executor') =>
      pod(tier).spec?.containers[0]?.ports?.map((p) => [p.name, p.containerPort]) ?? [];
    expect(ports('executor')).toContainEqual([ingress.ingress![0]!.ports[0]!.port, 7443]);
    const mediatorEgress = byName['airlock-ephemeral-mediator-egress']!;
    expect(selects(mediatorEgress.podSelector, 'mediator')).toBe(true);
    expect(selects(mediatorEgress.egress![0]!.to![0]!.podSelector!, 'executor')).toBe(true);
    expect(mediatorEgress.egress![0]!.ports[0]!.port).toBe(7443);
    expect(selects(byName['airlock-ephemeral-executor-egress']!.podSelector, 'executor')).toBe(true);
    expect(component('kustomization.yaml')).toContain('- ephemeral-networkpolicy.yaml\n');
  });

  it('mounts the Secret airlock-host-ca-key into the broker where launcher.hostCa.keyFile points', () => {
    const { launcher } = JSON.parse(component('broker.json'));
    const [patch] = loadAllYaml(component('broker-host-ca.yaml')) as {
      metadata: { name: string };
      spec: {
        template: { spec: { containers: { name: string; volumeMounts: unknown[] }[]; volumes: unknown[] } };
      };
    }[];
    expect(patch?.metadata.name).toBe('airlock-broker');
    const pod = patch!.spec.template.spec;
    // `defaultMode: 0400` as in base/broker.yaml (octal for Kubernetes' YAML 1.1; client-node's parser reads 400).
    expect(JSON.parse(JSON.stringify(pod.volumes))).toEqual([
      { name: 'host-ca-key', secret: { secretName: 'airlock-host-ca-key', defaultMode: expect.any(Number) } },
    ]);
    expect(component('broker-host-ca.yaml')).toContain('defaultMode: 0400\n');
    expect(JSON.parse(JSON.stringify(pod.containers))).toEqual([
      {
        name: 'broker',
        volumeMounts: [{ name: 'host-ca-key', mountPath: dirname(launcher.hostCa.keyFile), readOnly: true }],
      },
    ]);
    expect(component('kustomization.yaml')).toMatch(/patches:\n- path: broker-host-ca\.yaml\n/);
  });
});
