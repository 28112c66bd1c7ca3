/**
 * deploy/'s two modes stay in step: deploy/base installs ephemeral mode (the
 * ephemeral-tiers and door components), and deploy/components/standing-tiers
 * takes back out exactly what only ephemeral mode needs — every object those
 * two components add carries the label it deletes by, the broker's host CA
 * volume goes, and the broker config is base's again (no launcher block).
 * The overlays' renderings are test/integration/deploy.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../core/repo/repo-root.js';
import { loadBrokerConfig } from '../config.js';

const deploy = (...parts: string[]) => join(repoRoot(), 'deploy', ...parts);
const text = (...parts: string[]) => readFileSync(deploy(...parts), 'utf8');
const EPHEMERAL_ONLY = 'airlock.dev/deploy-mode';

interface Kustomization {
  resources?: string[];
  components?: string[];
  patches?: { path?: string; patch?: string; target?: { labelSelector?: string } }[];
  configMapGenerator?: { name: string; behavior?: string; files?: string[]; options?: { labels?: object } }[];
}
const kustomization = (...dir: string[]) => yaml.load(text(...dir, 'kustomization.yaml')) as Kustomization;

describe('deploy/: ephemeral mode by default, standing mode as a component', () => {
  it('deploy/base uses the ephemeral-tiers and door components', () => {
    expect(kustomization('base').components).toEqual(['../components/ephemeral-tiers', '../components/door']);
    expect(kustomization('base').resources).not.toContain('executor.yaml');
    expect(kustomization('base').resources).not.toContain('mediator.yaml');
  });

  it('labels every object of ephemeral-tiers and door as ephemeral-only, the door config included', () => {
    for (const component of ['ephemeral-tiers', 'door']) {
      const own = kustomization('components', component);
      for (const file of own.resources ?? []) {
        const objects = yaml.loadAll(text('components', component, file)) as {
          kind: string;
          metadata: { name: string; labels?: Record<string, string> };
        }[];
        for (const object of objects) {
          expect([object.kind, object.metadata.name, object.metadata.labels?.[EPHEMERAL_ONLY]]).toEqual([
            object.kind,
            object.metadata.name,
            'ephemeral',
          ]);
        }
      }
    }
    const door = kustomization('components', 'door').configMapGenerator?.[0];
    expect(door?.options?.labels).toEqual({ [EPHEMERAL_ONLY]: 'ephemeral' });
  });

  it('standing-tiers deletes by that label, removes the host CA mount, and restores the base broker config', () => {
    const standing = kustomization('components', 'standing-tiers');
    const [byLabel, hostCa] = standing.patches ?? [];
    expect(byLabel?.target?.labelSelector).toBe(`${EPHEMERAL_ONLY}=ephemeral`);
    expect(byLabel?.patch).toMatch(/^\$patch: delete\n/);
    const added = text('components', 'ephemeral-tiers', 'broker-host-ca.yaml');
    expect(added).toContain('- name: host-ca-key\n');
    expect(added).toContain('mountPath: /etc/airlock/host-ca\n');
    expect(hostCa?.patch).toContain('- name: host-ca-key\n        $patch: delete');
    expect(hostCa?.patch).toContain('- mountPath: /etc/airlock/host-ca\n          $patch: delete');
    expect(standing.configMapGenerator).toEqual([
      {
        name: 'airlock-broker-config',
        namespace: 'airlock-system',
        behavior: 'replace',
        files: ['broker.json'],
      },
    ]);
    const broker = deploy('components', 'standing-tiers', 'broker.json');
    expect(JSON.parse(readFileSync(broker, 'utf8'))).toEqual(
      JSON.parse(text('base', 'config', 'broker.json')),
    );
    expect(loadBrokerConfig(broker).launcher).toBeUndefined();
  });

  it('deploy/overlays/dev opts into standing mode, its configs after it', () => {
    expect(kustomization('overlays', 'dev').components).toEqual([
      '../../components/standing-tiers',
      'config',
    ]);
  });
});
