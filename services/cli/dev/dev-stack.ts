/**
 * `airlock dev up`: the gateway on one machine. This file composes the
 * parts, in the order they start: keys (dev-pki.ts), cluster objects and
 * ServiceAccount kubeconfigs (dev-cluster-objects.ts), executor and mediator
 * (dev-tiers.ts), identity provider and broker (dev-broker.ts), demo users
 * and their ssh config (dev-demo.ts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { CaKind } from '../../core/ca-keyring/keyring.js';
import { loadPolicy, type Policy } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo/repo-root.js';
import { ProcessGroup } from './child-processes.js';
import { writeDevPolicy } from './demo-policy.js';
import { startBroker, startDevIdentityProvider } from './dev-broker.js';
import { applyDevObjects, serviceAccountKubeconfig } from './dev-cluster-objects.js';
import { connectExistingCluster, type DevKubeTarget, hermeticTarget } from './dev-cluster-target.js';
import { createDemoUserKeys, issueThroughBroker, writeSshConfig } from './dev-demo.js';
import { BROKER_SA, DEMO_NAMESPACE, DEV_CLUSTER, EXECUTOR_SA } from './dev-identities.js';
import type { DevOidcProvider } from './dev-oidc-provider.js';
import { createDevPki } from './dev-pki.js';
import { createDevDirs } from './dev-state-dir.js';
import { startExecutor, startMediator, type TierContext } from './dev-tiers.js';
import { type HermeticCluster, startCluster } from './hermetic-cluster.js';

export { issueThroughBroker } from './dev-demo.js';
export {
  BROKER_TOKEN_AUDIENCE,
  DEMO_NAMESPACE,
  DEMO_PEOPLE,
  DEV_CLIENT_ID,
  DEV_CLUSTER,
  INCIDENT_BOT_SA,
  OTHER_NAMESPACE,
} from './dev-identities.js';
export { ensureKeyring } from './dev-pki.js';

/** The gateway dev up runs, on whichever cluster. */
export interface DevGateway {
  /** The cluster it runs against (the hermetic one, or an existing one from `--kubeconfig`). */
  kube: DevKubeTarget;
  stateDir: string;
  sshPort: number;
  executorPort: number;
  /** The tiers' /healthz, /readyz and /metrics ports. */
  opsPorts: { executor: number; mediator: number; broker: number };
  knownHostsPath: string;
  /** The broker's HTTPS URL; `keys/broker-ca.pem` is the CA for it and for the identity provider. */
  brokerUrl: string;
  brokerCaPath: string;
  /** The CA keyrings that `airlock ca rotate` operates on; the tiers watch them. */
  caDirs: Readonly<Record<CaKind, string>>;
  /** The in-process dev OpenID provider (device flow; demo page at `${issuer}/device`). */
  oidc: DevOidcProvider;
  /** OpenSSH client config: `Host airlock` with the on-call user's key, certificate and known_hosts. */
  sshConfigPath: string;
  /**
   * Demo users with an SSH key each. `oncall` also holds a certificate the
   * broker issued at start-up (device-flow login, an auto-approved
   * `oncall-debug` request with an INC- reason, `airlock cert`).
   */
  users: Record<string, { keyPath: string; certPath: string }>;
  /** A ready-to-paste ssh command for the on-call demo user. */
  sshCommand: string;
  /** The policy file the tiers read. */
  policyPath: string;
  /** Where the mediator writes asciicast recordings of terminal sessions (`airlock audit play`). */
  recordingsDir: string;
  pids: readonly number[];
  stop(): Promise<void>;
}

/** The gateway on the hermetic cluster that dev up started. */
export interface DevStack extends DevGateway {
  cluster: HermeticCluster;
}

/** Optional knobs of `startDevStack`; the defaults are what `airlock dev up` runs. */
export interface DevStackOptions {
  /**
   * Policy file for both tiers and the executor's RBAC. Default: docs/policy.example.json plus the
   * `demo-shell` profile (demo-policy.ts), written to `config/policy.json` (the benchmarks bring their own).
   */
  policyPath?: string;
}

/**
 * `airlock dev up`: the whole gateway on one machine. Starts the hermetic
 * cluster, then the gateway on it (`startGateway`). Stopping the stack stops
 * the cluster too.
 */
export async function startDevStack(
  stateDir: string,
  onProgress: (line: string) => void,
  options: DevStackOptions = {},
): Promise<DevStack> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const cluster = await startCluster({ stateDir: join(stateDir, 'cluster'), onProgress });
  const gateway = await startGateway(stateDir, hermeticTarget(cluster), onProgress, options);
  return { ...gateway, cluster };
}

/**
 * `airlock dev up --kubeconfig FILE`: the gateway on an existing cluster.
 * Checks the kubeconfig, that the cluster answers and that its user is
 * cluster-admin before creating anything; records every object it creates
 * (for `dev down`); never stops the cluster.
 */
export async function startDevStackOnCluster(
  stateDir: string,
  target: { kubeconfigPath: string; nodeName?: string; kubectl?: string },
  onProgress: (line: string) => void,
  options: DevStackOptions = {},
): Promise<DevGateway> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  onProgress(`connecting to the cluster of ${target.kubeconfigPath}`);
  const kube = await connectExistingCluster({ ...target, stateDir });
  return startGateway(stateDir, kube, onProgress, options);
}

/** The policy of `options.policyPath`, or else the demo policy written to `config/policy.json`. */
function devPolicy(
  root: string,
  configDir: string,
  options: DevStackOptions,
): { policyPath: string; policy: Policy } {
  const policyPath = options.policyPath ?? join(configDir, 'policy.json');
  const policy = options.policyPath
    ? loadPolicy(readFileSync(policyPath, 'utf8'))
    : writeDevPolicy(root, policyPath, { cluster: DEV_CLUSTER, namespace: DEMO_NAMESPACE });
  return { policyPath, policy };
}

/**
 * The gateway on a cluster: creates the dev CAs and keys under the state dir
 * (kept for the next run), applies the executor's RBAC (rendered from the
 * policy), the deploy/rbac templates and demo pods, runs the executor,
 * mediator and broker as separate processes with their own credentials and
 * the dev OpenID provider in this process, and has the broker issue the
 * on-call demo user's certificate. `stop` stops what it started, and the
 * cluster only when the target says it was started for it.
 */
async function startGateway(
  stateDir: string,
  kube: DevKubeTarget,
  onProgress: (line: string) => void,
  options: DevStackOptions,
): Promise<DevGateway> {
  const group = new ProcessGroup();
  let oidc: DevOidcProvider | undefined;
  const stop = async () => {
    await group.stopAll();
    await oidc?.stop();
    await kube.stop();
  };
  try {
    const dirs = createDevDirs(stateDir);
    const root = repoRoot();
    const { policyPath, policy } = devPolicy(root, dirs.config, options);
    const now = new Date();
    const pki = await createDevPki(dirs.keys, now, onProgress);

    const admin = new KubeConfig();
    admin.loadFromFile(kube.kubeconfigPath);
    await applyDevObjects(admin, kube, policy, root, onProgress);
    const saKubeconfig = (sa: { name: string; namespace: string }, file: string) =>
      serviceAccountKubeconfig(admin, kube.clusterEntry, sa, join(dirs.config, file));
    const executorKubeconfig = await saKubeconfig(EXECUTOR_SA, 'executor.kubeconfig');
    const brokerKubeconfig = await saKubeconfig(BROKER_SA, 'broker.kubeconfig');

    const ctx: TierContext = { stateDir, dirs, group, dist: join(root, 'dist', 'services'), policyPath, pki };
    const executor = await startExecutor(ctx, executorKubeconfig);
    const mediator = await startMediator(ctx, executor.port);

    onProgress('starting the dev identity provider and the broker');
    oidc = await startDevIdentityProvider(pki, now);
    const broker = await startBroker(ctx, oidc.issuer, brokerKubeconfig);

    onProgress('issuing the demo certificate through the broker (login, request, cert)');
    const users = createDemoUserKeys(dirs.users, ['oncall', 'lead']);
    await issueThroughBroker({
      brokerUrl: broker.url,
      caPath: pki.brokerCa.cert,
      oidc,
      user: 'oncall',
      configDir: join(dirs.users, 'oncall', 'dev-up-login'),
      publicKeyPath: `${users.oncall!.keyPath}.pub`,
    });
    const sshConfigPath = join(stateDir, 'ssh_config');
    const { sshPort, knownHostsPath } = mediator;
    writeSshConfig(sshConfigPath, { sshPort, knownHostsPath, usersDir: dirs.users }, users.oncall!);
    return {
      kube,
      stateDir,
      sshPort,
      executorPort: executor.port,
      opsPorts: {
        executor: Number(executor.ready.ops),
        mediator: Number(mediator.ready.ops),
        broker: Number(broker.ready.ops),
      },
      knownHostsPath,
      brokerUrl: broker.url,
      brokerCaPath: pki.brokerCa.cert,
      caDirs: pki.caDirs,
      oidc,
      sshConfigPath,
      users,
      sshCommand: `ssh -F ${sshConfigPath} airlock`,
      policyPath,
      recordingsDir: mediator.recordingsDir,
      pids: [...kube.pids, ...group.processes.map((p) => p.pid)],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
