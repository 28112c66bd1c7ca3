import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { DEMO_PEOPLE } from '../dev-stack.js';
import { nodeBrokerConfig } from './node-identity.js';

/** The tiers' user: owner of the hostPath volumes they write. */
const TIER_UID = 10001;

/** Which overlay of deploy/ the pods stack runs. */
export interface PodsOverlayOptions {
  /** deploy/overlays/dev-shipping (audit agent sidecars, the audit store, off-pod ack) instead of deploy/overlays/dev. */
  shipping?: boolean;
}

/** A hostPath directory for a PersistentVolume, owned by the tiers' user. */
export function tierVolumeDir(stateDir: string, name: string): string {
  const dir = join(stateDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, TIER_UID, TIER_UID);
  return dir;
}

/** A hostPath PersistentVolume bound in advance to one claim of airlock-system. */
export function hostPathVolume(name: string, claim: string, path: string, storage: string): object {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: { namespace: 'airlock-system', name: claim },
      hostPath: { path, type: 'Directory' },
    },
  };
}

/**
 * The state dir's overlay: deploy/overlays/dev (or dev-shipping) plus what
 * only this machine knows, the identity provider's URL (the broker config)
 * and hostPath PersistentVolumes for the broker's claim and, with shipping,
 * the audit store's (the hermetic cluster has no storage provisioner).
 * Returns the overlay's directory.
 */
export function writePodsOverlay(
  stateDir: string,
  issuer: string,
  volumes: { broker: string; auditStore?: string },
  options: PodsOverlayOptions = {},
): string {
  const dir = join(stateDir, 'deploy');
  mkdirSync(dir, { recursive: true });
  const base = join(repoRoot(), 'deploy', 'overlays', options.shipping ? 'dev-shipping' : 'dev');
  const broker = nodeBrokerConfig(join(base, 'config', 'broker.json'), issuer, DEMO_PEOPLE);
  writeFileSync(join(dir, 'broker.json'), `${JSON.stringify(broker, null, 2)}\n`);
  const pvs = [hostPathVolume('airlock-broker-state-dev', 'airlock-broker-state', volumes.broker, '1Gi')];
  if (volumes.auditStore)
    pvs.push(hostPathVolume('airlock-audit-store-dev', 'airlock-audit-store', volumes.auditStore, '20Gi'));
  const files = pvs.map((_, i) => (i === 0 ? 'broker-volume.json' : 'audit-store-volume.json'));
  for (const [i, file] of files.entries()) writeFileSync(join(dir, file), JSON.stringify(pvs[i], null, 2));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      '# Written by airlock dev up --pods.',
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `- ${relative(dir, base)}`,
      ...files.map((file) => `- ${file}`),
      'configMapGenerator:',
      '- name: airlock-broker-config',
      '  namespace: airlock-system',
      '  behavior: replace',
      '  files:',
      '  - broker.json',
      '',
    ].join('\n'),
  );
  return dir;
}
