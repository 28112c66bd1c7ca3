/**
 * The gateway in ephemeral mode as real pods: deploy/overlays/dev-ephemeral
 * (the broker launches a mediator and an executor pod per approved request;
 * the jump door in front of them) on the hermetic cluster's real node. The
 * standing stack's keys, Secrets and demo workload (pods-keys.ts,
 * pods-objects.ts), plus the host CA and the door's keys, a second team
 * (billing) and the RBAC for both namespaces (ephemeral-pods-setup.ts).
 * People get access as with stock OpenSSH: `airlock login`, `airlock
 * request`, `airlock cert --door` (door-access.ts), then `ssh -J` through a
 * loopback relay to the door Service.
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaKind } from '../../../core/ca-keyring/keyring.js';
import { AirlockError } from '../../../core/errors.js';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { createDemoUserKeys, type DemoUsers } from '../dev-demo.js';
import type { DevOidcProvider } from '../dev-oidc-provider.js';
import { INCIDENT_BOT_SA } from '../dev-stack.js';
import { type HermeticCluster, startCluster } from '../hermetic-cluster.js';
import { runQuiet } from '../host-commands.js';
import { ensureAppImages } from '../images/app-images.js';
import { ensureOtelcolImage } from '../images/otelcol-image.js';
import {
  createEphemeralSecrets,
  EPHEMERAL_PEOPLE,
  type EphemeralKeyFiles,
  ensureEphemeralKeys,
  ephemeralPolicy,
  ephemeralRbac,
  SERVED_NAMESPACES,
  writeEphemeralOverlay,
} from './ephemeral-pods-setup.js';
import { startNodeIdentityProvider } from './node-identity.js';
import { ensureTierKeys, type TierKeyFiles } from './pods-keys.js';
import {
  AIRLOCK_NAMESPACE,
  applyDemo,
  createNamespaces,
  createTierSecrets,
  type Kubectl,
  waitForDeployments,
} from './pods-objects.js';
import { startRelay } from './tcp-relay.js';

/** The ephemeral-mode gateway on the real node. */
export interface EphemeralPodsStack {
  cluster: HermeticCluster;
  stateDir: string;
  /** 127.0.0.1 relays to the broker's and the door's Services. */
  brokerUrl: string;
  doorPort: number;
  brokerCaPath: string;
  /** `[127.0.0.1]:<doorPort> <door host key>`: the door is checked as any ssh host. */
  doorKnownHostsPath: string;
  oidc: DevOidcProvider;
  caDirs: Readonly<Record<CaKind, string>>;
  /** The two people's SSH keys (oncall: payments; biller: billing). */
  users: DemoUsers;
  /** The public key files of each tier's audit signing key (`<tier>-audit.pub`, tier door included). */
  keysDir: string;
  kubectl: Kubectl;
  /** With `{ auditStore: true }`: the host directory of the audit store's volume (its `audit.otlp*.jsonl`). */
  auditStoreDir?: string;
  stop(): Promise<void>;
}

/** What else the stack runs. */
export interface EphemeralPodsOptions {
  /**
   * deploy/components/audit-shipping (the store on a host directory) and the
   * broker's `launcher.auditStore`: every per-request pod ships its trail.
   */
  readonly auditStore?: boolean;
}

/** The tiers' user: owner of the broker's and the audit store's hostPath volumes. */
const TIER_UID = 10001;

/** A host directory for a hostPath volume, owned by the tiers' user. */
function ownedDirectory(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chownSync(path, TIER_UID, TIER_UID);
  return path;
}

export async function startEphemeralPodsStack(
  stateDir: string,
  onProgress: (line: string) => void,
  options: EphemeralPodsOptions = {},
): Promise<EphemeralPodsStack> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const images = await ensureAppImages(onProgress);
  if (options.auditStore) images.push(await ensureOtelcolImage(onProgress));
  const auditStoreDir = options.auditStore ? ownedDirectory(join(stateDir, 'audit-store-volume')) : undefined;
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
    const kubectl: Kubectl = (...args) =>
      runQuiet(
        cluster.binaries.kubectl,
        ['--kubeconfig', cluster.kubeconfigPath, ...args],
        'CLUSTER_START_FAILED',
      );
    const keysDir = join(stateDir, 'keys');
    const now = new Date();
    const tierKeys = await ensureTierKeys(keysDir, now);
    const ephemeralKeys = ensureEphemeralKeys(keysDir);
    oidc = await startNodeIdentityProvider(cluster, tierKeys.brokerCa, EPHEMERAL_PEOPLE, now);

    const keys = { tierKeys, ephemeralKeys, issuer: oidc.issuer };
    await deployEphemeral(kubectl, stateDir, { ...keys, auditStoreDir }, onProgress);

    const serviceTarget = (name: string, port: number) => async () => ({
      host: kubectl(
        'get',
        'service',
        '-n',
        AIRLOCK_NAMESPACE,
        name,
        '-o',
        'jsonpath={.spec.clusterIP}',
      ).trim(),
      port,
    });
    const door = await startRelay(serviceTarget('airlock-door', 22));
    const broker = await startRelay(serviceTarget('airlock-broker', 8443));
    relays.push(door.server, broker.server);
    const doorKnownHostsPath = join(stateDir, 'door_known_hosts');
    writeFileSync(doorKnownHostsPath, `[127.0.0.1]:${door.port} ${ephemeralKeys.doorHostKeyLine}\n`);
    return {
      cluster,
      stateDir,
      brokerUrl: `https://127.0.0.1:${broker.port}`,
      doorPort: door.port,
      brokerCaPath: tierKeys.brokerCa.cert,
      doorKnownHostsPath,
      oidc,
      caDirs: tierKeys.caDirs,
      users: createDemoUserKeys(join(stateDir, 'users'), Object.keys(EPHEMERAL_PEOPLE)),
      keysDir,
      kubectl,
      ...(auditStoreDir ? { auditStoreDir } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * deploy/overlays/dev-ephemeral applied as written, with what deploy/README.md
 * says to create out of band (Secrets, ConfigMaps, the broker's volume), the
 * RBAC for both served namespaces and the demo workload; resolves once the
 * tiers and the door are Available.
 */
async function deployEphemeral(
  kubectl: Kubectl,
  stateDir: string,
  keys: {
    tierKeys: TierKeyFiles;
    ephemeralKeys: EphemeralKeyFiles;
    issuer: string;
    auditStoreDir: string | undefined;
  },
  onProgress: (line: string) => void,
): Promise<void> {
  onProgress(
    'creating the Secrets and ConfigMaps deploy/overlays/dev-ephemeral expects, and the broker volume',
  );
  kubectl('apply', '-f', join(repoRoot(), 'deploy', 'base', 'namespace.yaml'));
  createNamespaces(kubectl, [...SERVED_NAMESPACES, INCIDENT_BOT_SA.namespace]);
  createTierSecrets(kubectl, keys.tierKeys);
  createEphemeralSecrets(kubectl, keys.ephemeralKeys);
  const brokerVolume = ownedDirectory(join(stateDir, 'broker-volume'));
  const policy = ephemeralPolicy();
  const overlay = writeEphemeralOverlay(stateDir, {
    issuer: keys.issuer,
    brokerVolume,
    policy,
    ...(keys.auditStoreDir ? { auditStoreVolume: keys.auditStoreDir } : {}),
  });
  onProgress(
    'kubectl apply -k deploy/overlays/dev-ephemeral (with the identity provider, the two-team policy)',
  );
  kubectl('apply', '-k', overlay);
  const rbacFile = join(overlay, 'rbac-two-namespaces.json');
  writeFileSync(rbacFile, JSON.stringify(ephemeralRbac(policy), null, 2));
  kubectl('apply', '-f', rbacFile);
  applyDemo(kubectl, INCIDENT_BOT_SA, overlay);
  await waitForDeployments(kubectl, onProgress);
  await waitForDoor(kubectl, onProgress);
}

/** The door's Deployment Available (waitForDeployments knows the three tiers only). */
async function waitForDoor(kubectl: Kubectl, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 240_000;
  progress('waiting for airlock-door');
  for (;;) {
    const available = kubectl(
      'get',
      'deployment',
      '-n',
      AIRLOCK_NAMESPACE,
      'airlock-door',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Available")].status}',
    ).trim();
    if (available === 'True') return;
    if (Date.now() > deadline) {
      throw new AirlockError('CLUSTER_START_FAILED', 'the door Deployment is not Available', {
        detail: [
          kubectl('get', 'pods', '-n', AIRLOCK_NAMESPACE, '-o', 'wide'),
          kubectl('get', 'events', '-n', AIRLOCK_NAMESPACE, '--sort-by=.lastTimestamp'),
        ].join('\n'),
      });
    }
    await sleep(1_000);
  }
}
