/**
 * Security review finding 5: the executor's NetworkPolicy let it open
 * connections to any host on 443/6443, although deploy/base said the prod
 * overlay narrowed it. The prod overlay now copies the API server's address
 * (deploy/overlays/prod/api-server.yaml) into the executor's egress rule with
 * a kustomize replacement. This renders the shipped overlay, and an
 * operator's copy with its own address, with the hermetic cluster's kubectl.
 * (Whether a CNI enforces the rendered policy is the CNI's business: the
 * hermetic cluster has no network plugin.)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { clusterInfo } from '../support/kube.js';

function kubectl(args: string[]) {
  const { kubectlPath, kubeconfigPath } = clusterInfo();
  return spawnSync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
}

describe('adversarial: finding 5: executor egress in the prod overlay', () => {
  it('finding 5: the rendered prod overlay lets the executors (standing and per-request) open connections on 443/6443 only to the API server address', () => {
    const egressOf = (overlayDir: string, name = 'airlock-executor-egress') => {
      const built = kubectl(['kustomize', overlayDir]);
      expect(built.stderr).toBe('');
      const objects = loadAllYaml(built.stdout) as {
        kind: string;
        metadata: { name: string };
        spec?: { egress?: { to?: { ipBlock?: { cidr: string } }[]; ports?: { port: number | string }[] }[] };
      }[];
      // The address source is local configuration: rendered into the policy, never applied itself.
      expect(objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airlock-api-server')).toBe(
        false,
      );
      const policy = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name);
      return policy?.spec?.egress ?? [];
    };
    const prod = join(repoRoot(), 'deploy', 'overlays', 'prod');
    const shippedCidr = /^\s+cidr: (\S+)$/m.exec(readFileSync(join(prod, 'api-server.yaml'), 'utf8'))?.[1];
    expect(shippedCidr).toBe('192.0.2.10/32');
    // The standing executor's policy (base) and the per-request executors' (ephemeral mode, the default).
    for (const name of ['airlock-executor-egress', 'airlock-ephemeral-executor-egress']) {
      expect(egressOf(prod, name)).toEqual([
        {
          to: [{ ipBlock: { cidr: '192.0.2.10/32' } }],
          ports: [
            { protocol: 'TCP', port: 443 },
            { protocol: 'TCP', port: 6443 },
          ],
        },
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ]);
    }

    // An operator's copy of the overlay with its own API server address gets exactly that.
    const dir = mkdtempSync(join(tmpdir(), 'airlock-prod-overlay-'));
    try {
      const copy = join(dir, 'deploy', 'overlays', 'prod');
      cpSync(prod, copy, { recursive: true });
      for (const part of ['base', 'components']) {
        cpSync(join(repoRoot(), 'deploy', part), join(dir, 'deploy', part), { recursive: true });
      }
      const apiServer = join(copy, 'api-server.yaml');
      writeFileSync(apiServer, readFileSync(apiServer, 'utf8').replace('192.0.2.10/32', '10.20.0.5/32'));
      expect(egressOf(copy)[0]?.to).toEqual([{ ipBlock: { cidr: '10.20.0.5/32' } }]);
      expect(egressOf(copy, 'airlock-ephemeral-executor-egress')[0]?.to).toEqual([
        { ipBlock: { cidr: '10.20.0.5/32' } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
