/**
 * Test helpers for the executor, shipped as real code (STYLE.md: fakes, not
 * mocks).
 */
import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig for an executor that is never dialled: one cluster at 127.0.0.1:6443, a token user. */
export function unusedExecutorKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: 'Y2E=' }],
    users: [{ name: 'executor', token: 'executor-token' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'executor' }],
    currentContext: 'c',
  });
  return kc;
}
