import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../core/repo/repo-root.js';
import { loadMediatorConfig } from './config.js';

// The optional host certificate next to the host key (airlock ca sign-host), relative to the file.

function withConfig(extra: Record<string, unknown>): string {
  const base = JSON.parse(
    readFileSync(join(repoRoot(), 'deploy', 'base', 'config', 'mediator.json'), 'utf8'),
  );
  const path = join(mkdtempSync(join(tmpdir(), 'airlock-mediator-config-')), 'mediator.json');
  writeFileSync(path, JSON.stringify({ ...base, ...extra }));
  return path;
}

describe('mediator config: hostCertificateFile', () => {
  it('is optional, and resolved against the config file when given', () => {
    expect(loadMediatorConfig(withConfig({})).hostCertificateFile).toBeUndefined();
    const path = withConfig({ hostCertificateFile: 'host-key/ssh_host_ed25519_key-cert.pub' });
    expect(loadMediatorConfig(path).hostCertificateFile).toBe(
      join(path, '..', 'host-key', 'ssh_host_ed25519_key-cert.pub'),
    );
  });

  it('refuses a value that is not a file path', () => {
    expect(() => loadMediatorConfig(withConfig({ hostCertificateFile: 42 }))).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        detail: expect.stringContaining('hostCertificateFile'),
      }),
    );
  });
});
