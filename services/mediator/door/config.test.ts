import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../core/repo/repo-root.js';
import { loadDoorConfig } from './config.js';

const required = {
  listen: '127.0.0.1:2222',
  hostKeyFile: 'host',
  policyFile: 'policy.json',
  sshUserCaKeysFile: 'ca.pub',
  audit: { path: 'door.jsonl', signingKeyFile: 'audit.key' },
};

function write(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'airlock-door-config-')), 'door.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('loadDoorConfig', () => {
  it('loads the shipped component config: mediators from Kubernetes Services, a 30 s wait', () => {
    const config = loadDoorConfig(join(repoRoot(), 'deploy', 'components', 'door', 'door.json'));
    expect(config.mediators).toEqual({ kubernetes: { namespace: 'airlock-system' } });
    expect(config.limits.mediatorReadySeconds).toBe(30);
  });

  it('resolves paths against the file and takes a static map of request id to address', () => {
    const path = write({ ...required, mediators: { static: { 'req-a1': '127.0.0.1:2200' } } });
    const config = loadDoorConfig(path);
    expect(config.hostKeyFile).toBe(join(path, '..', 'host'));
    expect(config.mediators).toEqual({ static: { 'req-a1': '127.0.0.1:2200' } });
  });

  it.each([
    ['no mediators', {}],
    ['both kinds of mediators', { mediators: { static: {}, kubernetes: { namespace: 'a' } } }],
    ['a request id that is no label value', { mediators: { static: { 'req a': '127.0.0.1:22' } } }],
    ['a wait beyond 300 s', { mediators: { static: {} }, limits: { mediatorReadySeconds: 301 } }],
  ])('refuses %s (CONFIG_INVALID)', (_name, extra) => {
    expect(() => loadDoorConfig(write({ ...required, ...extra }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
