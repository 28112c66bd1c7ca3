import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../broker/config.js';
import { loadExecutorConfig } from '../executor/config.js';
import { loadMediatorConfig } from '../mediator/config.js';
import { loadPolicy } from './policy/index.js';
import { repoRoot } from './repo-root.js';

const config = (name: string) => join(repoRoot(), 'deploy', 'base', 'config', name);

describe('deploy/base configuration', () => {
  it('holds tier configs that pass each tier’s start-up validation', () => {
    expect(loadExecutorConfig(config('executor.json')).listen).toBe('0.0.0.0:7443');
    expect(loadMediatorConfig(config('mediator.json')).executor.address).toBe(
      'airlock-executor.airlock-system.svc:7443',
    );
    expect(loadBrokerConfig(config('broker.json')).listen.port).toBe(8443);
    // The broker Deployment probes /healthz and /readyz on the port named ops (9464).
    expect(loadBrokerConfig(config('broker.json')).ops?.listen).toBe('0.0.0.0:9464');
  });

  it('ships the reviewed example policy unchanged', () => {
    const shipped = readFileSync(config('policy.json'), 'utf8');
    expect(shipped).toBe(readFileSync(join(repoRoot(), 'docs', 'policy.example.json'), 'utf8'));
    expect(() => loadPolicy(shipped)).not.toThrow();
  });
});
