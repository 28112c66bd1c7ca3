/** What the hermetic cluster's start-up uses: free ports, kubeconfigs, the audit policy, readiness probes. */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../../core/errors.js';
import type { ClusterPki } from './cluster-pki.js';

/**
 * The audit policy: Metadata for every request by a person or airlock,
 * RequestResponse for the streaming subresources, nothing for the control
 * plane's own chatter (which would bury the interesting events).
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:kube-controller-manager", "system:apiserver", "system:kube-scheduler"]
  - level: None
    userGroups: ["system:nodes"]
  - level: None
    nonResourceURLs: ["/readyz*", "/livez*", "/healthz*", "/version", "/openapi/*"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward", "pods/ephemeralcontainers"]
  - level: Metadata
`;

export function kubeconfig(
  server: string,
  caCert: string,
  clientCert: string,
  clientKey: string,
  user: string,
): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'hermetic', cluster: { server, 'certificate-authority': caCert } }],
      users: [{ name: user, user: { 'client-certificate': clientCert, 'client-key': clientKey } }],
      contexts: [{ name: 'hermetic', context: { cluster: 'hermetic', user } }],
      'current-context': 'hermetic',
    },
    null,
    2,
  );
}

export function httpsGet(url: string, pki: ClusterPki): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitFor(
  what: string,
  deadline: number,
  crashed: Promise<never>,
  probe: () => Promise<boolean>,
): Promise<void> {
  let lastError = '';
  while (Date.now() < deadline) {
    const ok = await Promise.race([
      probe().catch((error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error);
        return false;
      }),
      crashed,
    ]);
    if (ok) return;
    await sleep(100);
  }
  throw new AirlockError('CLUSTER_START_FAILED', `timed out waiting for ${what}`, { detail: lastError });
}
