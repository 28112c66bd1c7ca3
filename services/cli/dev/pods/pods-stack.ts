import { mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import type { CaKind } from '../../../core/ca-keyring/keyring.js';
import { repoRoot } from '../../../core/repo/repo-root.js';
import type { DevOidcProvider } from '../dev-oidc-provider.js';
import { DEMO_PEOPLE, INCIDENT_BOT_SA, issueThroughBroker } from '../dev-stack.js';
import { type HermeticCluster, startCluster } from '../hermetic-cluster.js';
import { runQuiet } from '../host-commands.js';
import { ensureAppImages } from '../images/app-images.js';
import { ensureOtelcolImage } from '../images/otelcol-image.js';
import { startNodeIdentityProvider } from './node-identity.js';
import { ensureDemoUsers, ensureTierKeys, writeSshConfig } from './pods-keys.js';
import {
  applyDemo,
  createNamespaces,
  createTierSecrets,
  type Kubectl,
  type TierKeys,
  waitForDeployments,
} from './pods-objects.js';
import { type PodsOverlayOptions, tierVolumeDir, writePodsOverlay } from './pods-overlay.js';
import { startRelay } from './tcp-relay.js';

/** `airlock dev up --pods`: the gateway as the pods of deploy/overlays/dev on the real node. */
export interface PodsStack {
  cluster: HermeticCluster;
  stateDir: string;
  /** 127.0.0.1 relays to the mediator's and the broker's Services. */
  sshPort: number;
  brokerUrl: string;
  brokerCaPath: string;
  knownHostsPath: string;
  sshConfigPath: string;
  sshCommand: string;
  oidc: DevOidcProvider;
  caDirs: Readonly<Record<CaKind, string>>;
  users: Record<string, { keyPath: string; certPath: string }>;
  kubectl: Kubectl;
  /** With `shipping`: the audit store's PersistentVolume (hostPath), holding audit.otlp.jsonl. */
  auditStoreDir?: string;
  stop(): Promise<void>;
}

/** kubectl against the hermetic cluster, as its cluster-admin. */
function clusterKubectl(cluster: HermeticCluster): Kubectl {
  return (...args) =>
    runQuiet(
      cluster.binaries.kubectl,
      ['--kubeconfig', cluster.kubeconfigPath, ...args],
      'CLUSTER_START_FAILED',
    );
}

/** A relay target: the ClusterIP of a Service in airlock-system, looked up for each connection. */
function serviceTarget(kubectl: Kubectl, name: string, port: number) {
  return async () => ({
    host: kubectl('get', 'service', '-n', 'airlock-system', name, '-o', 'jsonpath={.spec.clusterIP}').trim(),
    port,
  });
}

/**
 * Creates what deploy/ expects (namespaces, the tiers' Secrets, the broker
 * volume), applies the state dir's overlay of deploy/overlays/dev and the
 * demo, and waits for the Deployments.
 */
async function applyGatewayPods(
  kubectl: Kubectl,
  stateDir: string,
  keys: TierKeys,
  issuer: string,
  onProgress: (line: string) => void,
  options: PodsOverlayOptions,
): Promise<string | undefined> {
  onProgress('creating the Secrets and ConfigMaps deploy/ expects, and the broker volume');
  kubectl('apply', '-f', join(repoRoot(), 'deploy', 'base', 'namespace.yaml'));
  createNamespaces(kubectl, ['payments', 'billing', INCIDENT_BOT_SA.namespace]);
  createTierSecrets(kubectl, keys);
  const broker = tierVolumeDir(stateDir, 'broker-volume');
  const auditStore = options.shipping ? tierVolumeDir(stateDir, 'audit-store-volume') : undefined;
  const overlay = writePodsOverlay(
    stateDir,
    issuer,
    { broker, ...(auditStore ? { auditStore } : {}) },
    options,
  );
  const name = options.shipping ? 'dev-shipping' : 'dev';
  onProgress(`kubectl apply -k deploy/overlays/${name} (with the dev identity provider and the volumes)`);
  kubectl('apply', '-k', overlay);
  applyDemo(kubectl, INCIDENT_BOT_SA, overlay);
  await waitForDeployments(kubectl, onProgress);
  return auditStore;
}

export async function startPodsStack(
  stateDir: string,
  onProgress: (line: string) => void,
  options: PodsOverlayOptions = {},
): Promise<PodsStack> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const images = await ensureAppImages(onProgress);
  if (options.shipping) images.push(await ensureOtelcolImage(onProgress));
  onProgress(`images: ${images.map((i) => `${i.ref} ${(i.sizeBytes / 1e6).toFixed(0)} MB`).join(', ')}`);
  const cluster = await startCluster({
    stateDir: join(stateDir, 'cluster'),
    onProgress,
    node: 'real',
    images: images.map((image) => image.archive),
  });
  const relays: Server[] = [];
  let oidc: DevOidcProvider | undefined;
  const stop = async () => {
    for (const relay of relays) relay.close();
    await oidc?.stop();
    await cluster.stop();
  };
  try {
    const kubectl = clusterKubectl(cluster);
    const now = new Date();
    const { caDirs, brokerCa, auditKeys, hostKeyPath, hostKeyLine } = await ensureTierKeys(
      join(stateDir, 'keys'),
      now,
    );

    oidc = await startNodeIdentityProvider(cluster, brokerCa, DEMO_PEOPLE, now);

    const auditStoreDir = await applyGatewayPods(
      kubectl,
      stateDir,
      { caDirs, brokerCa, auditKeys, hostKeyPath },
      oidc.issuer,
      onProgress,
      options,
    );

    const ssh = await startRelay(serviceTarget(kubectl, 'airlock-mediator', 22));
    const brokerRelay = await startRelay(serviceTarget(kubectl, 'airlock-broker', 8443));
    relays.push(ssh.server, brokerRelay.server);
    const knownHostsPath = join(stateDir, 'known_hosts');
    writeFileSync(knownHostsPath, `[127.0.0.1]:${ssh.port} ${hostKeyLine}\n`);
    const brokerUrl = `https://127.0.0.1:${brokerRelay.port}`;

    onProgress('issuing the demo certificate through the broker pod (login, request, cert)');
    const users = ensureDemoUsers(join(stateDir, 'users'));
    await issueThroughBroker({
      brokerUrl,
      caPath: brokerCa.cert,
      oidc,
      user: 'oncall',
      configDir: join(stateDir, 'users', 'oncall', 'dev-up-login'),
      publicKeyPath: `${users.oncall!.keyPath}.pub`,
    });
    const sshConfigPath = writeSshConfig(stateDir, ssh.port, users.oncall!, knownHostsPath);
    return {
      cluster,
      stateDir,
      sshPort: ssh.port,
      brokerUrl,
      brokerCaPath: brokerCa.cert,
      knownHostsPath,
      sshConfigPath,
      sshCommand: `ssh -F ${sshConfigPath} airlock`,
      oidc,
      caDirs,
      users,
      kubectl,
      ...(auditStoreDir ? { auditStoreDir } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
