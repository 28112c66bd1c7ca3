import type { TestProject } from 'vitest/node';
import { startCluster } from '../../services/cli/dev/hermetic-cluster.js';
import type { ClusterInfo } from '../support/cluster-info.js';

/**
 * Starts one hermetic cluster for a test project and stops it (every
 * process it started) when the project finishes.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster({
    onProgress: (line) => process.stderr.write(`[cluster] ${line}\n`),
  });
  const info: ClusterInfo = {
    kubeconfigPath: cluster.kubeconfigPath,
    server: cluster.server,
    auditLogPath: cluster.auditLogPath,
    kubeletStateDir: cluster.kubeletStateDir,
    caCertPath: cluster.pki.caCert,
    kubectlPath: cluster.binaries.kubectl,
    nodeName: cluster.nodeName,
    logsDir: cluster.logsDir,
  };
  project.provide('cluster', info);
  return () => cluster.stop();
}
