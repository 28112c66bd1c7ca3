import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CSR_SIGNING_RULES } from '../core/kube/kube-csr-test-support.js';
import { repoRoot } from '../core/repo/repo-root.js';
import { loadBrokerConfig } from './config.js';
import { validBrokerConfigJson } from './config-test-support.js';

// What deploying the kube client certificates takes: the broker's RBAC and its kubeCertificates config.

describe('deploy/base/broker-rbac.yaml', () => {
  it('grants exactly create/get/delete on CSRs, update on their approval and approve on the kube-apiserver-client signer', () => {
    const docs = loadAllYaml(readFileSync(join(repoRoot(), 'deploy/base/broker-rbac.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string; namespace?: string };
      rules?: unknown[];
      subjects?: unknown[];
      roleRef?: { name: string };
    }[];
    expect(docs.map((d) => d.kind)).toEqual([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
    ]);
    // The last pair: get/update/patch on the one revocation ConfigMap (revocation-config-map.ts).
    expect(docs[5]).toMatchObject({ metadata: { namespace: 'airlock-system' } });
    expect(docs[5]?.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['airlock-revocation'],
        verbs: ['get', 'update', 'patch'],
      },
    ]);
    expect(docs[6]?.roleRef?.name).toBe(docs[5]?.metadata.name);
    expect(docs[6]?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'airlock-broker', namespace: 'airlock-system' },
    ]);
    // The second pair is TokenReview for machine identities, and nothing else.
    expect(docs[3]?.rules).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
    expect(docs[4]?.roleRef?.name).toBe(docs[3]?.metadata.name);
    const role = docs[1];
    expect(role?.rules).toEqual(CSR_SIGNING_RULES);
    expect(docs[2]?.roleRef?.name).toBe(role?.metadata.name);
    expect(docs[2]?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'airlock-broker', namespace: 'airlock-system' },
    ]);
    expect(readFileSync(join(repoRoot(), 'deploy/base/kustomization.yaml'), 'utf8')).toContain(
      '- broker-rbac.yaml\n',
    );
  });
});

describe('broker config: kubeCertificates', () => {
  it('is optional, resolves kubeconfig relative to the file, defaults the timeout, and names a bad field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-kube-cert-config-'));
    try {
      const base = validBrokerConfigJson({});
      const file = join(dir, 'broker.json');
      writeFileSync(file, JSON.stringify(base));
      expect(loadBrokerConfig(file).kubeCertificates).toBeUndefined();
      writeFileSync(
        file,
        JSON.stringify({ ...base, kubeCertificates: { cluster: 'prod-eu', kubeconfig: 'kc.yaml' } }),
      );
      expect(loadBrokerConfig(file).kubeCertificates).toEqual({
        cluster: 'prod-eu',
        kubeconfig: join(dir, 'kc.yaml'),
        signTimeoutSeconds: 30,
      });
      writeFileSync(file, JSON.stringify({ ...base, kubeCertificates: { kubeconfig: 'kc.yaml' } }));
      expect(() => loadBrokerConfig(file)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
