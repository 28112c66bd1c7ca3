/**
 * deploy/components/ephemeral-tiers stays in step with the code: its broker
 * config is the base config plus the `launcher` block and validates, and its
 * launcher RBAC is exactly what renderLauncherRbac renders for the example
 * policy (cluster dev, namespace payments, as base/executor-rbac.yaml).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo-root.js';
import { loadBrokerConfig } from '../config.js';
import { renderLauncherRbac } from './tier-rbac.js';

const deploy = (...parts: string[]) => join(repoRoot(), 'deploy', ...parts);

describe('deploy/components/ephemeral-tiers', () => {
  it('is the base broker config with launcher mode ephemeral, and it validates', () => {
    const component = deploy('components', 'ephemeral-tiers', 'broker.json');
    const { launcher, ...rest } = JSON.parse(readFileSync(component, 'utf8'));
    expect(rest).toEqual(JSON.parse(readFileSync(deploy('base', 'config', 'broker.json'), 'utf8')));
    expect(loadBrokerConfig(component).launcher).toEqual({ ...launcher, sweepSeconds: 30 });
    expect(launcher.mode).toBe('ephemeral');
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
});
