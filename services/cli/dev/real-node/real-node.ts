import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../../../core/errors.js';
import { repoRoot } from '../../../core/repo/repo-root.js';
import { ProcessGroup } from '../child-processes.js';
import { haveCommand, runQuiet } from '../host-commands.js';
import { type ServiceLookup, startClusterDns } from './cluster-dns.js';
import {
  CNI_BIN_DIR,
  type ContainerdPaths,
  importImage,
  type PodNetwork,
  socketReady,
  startContainerd,
} from './containerd.js';
import { kubepodsCgroups, linkExists, listChains, listNftTables, readSysctls } from './host-state.js';
import type { JanitorRecord, JanitorReport } from './janitor.js';
import { kubeletConfig, kubeProxyConfig } from './node-components.js';
import { writePauseImage } from './pause-image.js';

/** One real node per machine: its bridge, iptables chains and kubepods cgroups are host-wide. */
export const REAL_NODE_LOCK = '/run/airlock-real-node.lock';
export const REAL_NODE_NAME = 'airlock-node';
export const POD_NETWORK: PodNetwork = { bridge: 'airlock0', subnet: '10.244.0.0/24', gateway: '10.244.0.1' };
/** The `kubernetes` Service's ClusterIP (first address of the apiserver's service range). */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

/** Controllers a node with real pods needs besides the fake-kubelet set (REAL-NODE.md fix 2). */
export const REAL_NODE_CONTROLLERS = [
  'node-lifecycle-controller',
  'replicaset-controller',
  'deployment-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'pod-garbage-collector-controller',
  'persistentvolume-binder-controller',
  'disruption-controller',
  'ttl-controller',
];

export interface NodeBinaries {
  kubelet: string;
  'kube-proxy': string;
  'kube-scheduler': string;
  pause: string;
}

export interface NodeCredentials {
  caCert: string;
  kubeletKubeconfig: string;
  kubeletServingCert: string;
  kubeletServingKey: string;
  proxyKubeconfig: string;
  schedulerKubeconfig: string;
}

/** The host side of a real node, prepared before the control plane starts (its address is the bridge's). */
export interface PreparedNode {
  readonly network: PodNetwork;
  readonly nodeName: string;
  /** Starts containerd, imports the images, starts the kubelet, kube-proxy and the scheduler. */
  start(options: StartNodeOptions): Promise<RealNode>;
  /** Undoes everything (the janitor); safe to call at any point. */
  stop(): Promise<JanitorReport | undefined>;
  /** Hands the control plane's processes to the janitor too (stopped should this process die). */
  adopt(controlPlanePids: number[]): void;
}

export interface StartNodeOptions {
  binaries: NodeBinaries;
  credentials: NodeCredentials;
  /** `docker save` archives to import into containerd's k8s.io namespace. */
  images: string[];
  freePort: () => Promise<number>;
  progress: (line: string) => void;
  /** The cluster DNS's source of Service ClusterIPs (cluster-dns.ts). */
  lookupService: ServiceLookup;
}

export interface RealNode {
  readonly containerd: ContainerdPaths;
  readonly pids: readonly number[];
  readonly group: ProcessGroup;
}

function preflight(): void {
  const missing = ['containerd', 'ctr', 'runc', 'iptables', 'ip'].filter((tool) => !haveCommand(tool));
  if (!existsSync(join(CNI_BIN_DIR, 'bridge'))) missing.push(`${CNI_BIN_DIR}/bridge`);
  if (missing.length > 0) {
    throw new AirlockError(
      'REAL_NODE_UNAVAILABLE',
      `the real node needs ${missing.join(', ')}; on Debian: apt-get install containerd runc containernetworking-plugins iptables iproute2`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new AirlockError(
      'REAL_NODE_UNAVAILABLE',
      'the real node runs containers, bridges and iptables: run as root',
    );
  }
}

/** Why a real node cannot run here (tools missing, not root), or undefined when it can; for callers that skip. */
export function realNodeUnavailableReason(): string | undefined {
  try {
    preflight();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function takeLock(): void {
  if (existsSync(REAL_NODE_LOCK)) {
    const holder = Number(readFileSync(REAL_NODE_LOCK, 'utf8').trim());
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) {
      throw new AirlockError(
        'REAL_NODE_UNAVAILABLE',
        `another real node runs on this machine (janitor pid ${holder}, ${REAL_NODE_LOCK})`,
      );
    }
    rmSync(REAL_NODE_LOCK, { force: true });
  }
  if (linkExists(POD_NETWORK.bridge) || kubepodsCgroups().length > 0) {
    throw new AirlockError(
      'REAL_NODE_UNAVAILABLE',
      `the host still has the ${POD_NETWORK.bridge} bridge or kubepods cgroups of an earlier node; remove them first`,
    );
  }
}

function createBridge(network: PodNetwork): void {
  const prefix = network.subnet.split('/')[1];
  runQuiet('ip', ['link', 'add', network.bridge, 'type', 'bridge'], 'REAL_NODE_UNAVAILABLE');
  runQuiet(
    'ip',
    ['addr', 'add', `${network.gateway}/${prefix}`, 'dev', network.bridge],
    'REAL_NODE_UNAVAILABLE',
  );
  runQuiet('ip', ['link', 'set', network.bridge, 'up'], 'REAL_NODE_UNAVAILABLE');
}

function startJanitor(record: JanitorRecord, recordPath: string, logPath: string): ChildProcess {
  writeFileSync(recordPath, JSON.stringify(record, null, 2));
  const script = join(repoRoot(), 'dist', 'services', 'cli', 'dev', 'real-node', 'janitor.js');
  if (!existsSync(script)) {
    throw new AirlockError('REAL_NODE_UNAVAILABLE', `${script} is missing; run npm run build first`);
  }
  const log = openSync(logPath, 'a');
  const janitor = spawn(process.execPath, [script, recordPath], {
    detached: true,
    stdio: ['pipe', 'pipe', log],
  });
  return janitor;
}

/**
 * Takes the machine's real-node lock, records the host state the node will
 * change (sysctls, iptables chains, nftables tables), starts the janitor
 * that restores it when this process stops it or dies, and creates the pod
 * bridge whose address becomes the node's (and the apiserver's) address.
 */
export function prepareRealNode(stateDir: string, removeStateDir: boolean, logsDir: string): PreparedNode {
  preflight();
  takeLock();
  const nodeDir = join(stateDir, 'node');
  mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
  const containerdDir = join(nodeDir, 'containerd');
  const record: JanitorRecord = {
    stateDir,
    removeStateDir,
    lockFile: REAL_NODE_LOCK,
    bridge: POD_NETWORK.bridge,
    containerdSocket: join(containerdDir, 'containerd.sock'),
    sysctls: readSysctls(),
    chains: listChains(),
    nftTables: listNftTables(),
    pids: [],
    controlPlanePids: [],
    // Deepest first: rmdir only succeeds once a directory is empty.
    createdDirs: ['/run/containerd/s', '/run/containerd'].filter((dir) => !existsSync(dir)),
  };
  const recordPath = join(nodeDir, '..', 'janitor-record.json');
  const janitor = startJanitor(record, recordPath, join(logsDir, 'janitor.log'));
  writeFileSync(REAL_NODE_LOCK, `${janitor.pid}\n`);
  let output = '';
  janitor.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const janitorExited = new Promise<void>((resolve) => janitor.on('exit', () => resolve()));
  const group = new ProcessGroup();
  let dns: Socket | undefined;
  let stopped: Promise<JanitorReport | undefined> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      dns?.close();
      await group.stopAll(5_000);
      janitor.stdin?.end();
      await janitorExited;
      try {
        return JSON.parse(output) as JanitorReport;
      } catch {
        return undefined;
      }
    })();
    return stopped;
  };
  try {
    createBridge(POD_NETWORK);
  } catch (error) {
    void stop();
    throw error;
  }
  return {
    network: POD_NETWORK,
    nodeName: REAL_NODE_NAME,
    stop,
    adopt: (pids) => {
      record.controlPlanePids = pids;
      writeFileSync(recordPath, JSON.stringify(record, null, 2));
    },
    start: async (options) => {
      dns = await startClusterDns(POD_NETWORK.gateway, options.lookupService);
      const node = await startNode(options, group, nodeDir, containerdDir, logsDir);
      record.pids = node.pids as number[];
      writeFileSync(recordPath, JSON.stringify(record, null, 2));
      return node;
    },
  };
}

/** Log file of one node component. */
type NodeLog = (name: string) => string;

/** Starts containerd, waits for its socket (30 s, or until a process crashes) and imports the images. */
async function startContainerdWithImages(
  options: StartNodeOptions,
  group: ProcessGroup,
  nodeDir: string,
  containerdDir: string,
  log: NodeLog,
): Promise<ContainerdPaths> {
  const { paths } = startContainerd(group, containerdDir, POD_NETWORK, log('containerd'));
  const crashed = group.watchForCrash();
  crashed.catch(() => {});
  const deadline = Date.now() + 30_000;
  while (!socketReady(paths)) {
    if (Date.now() > deadline)
      throw new AirlockError('CLUSTER_START_FAILED', 'containerd did not create its socket');
    await Promise.race([sleep(100), crashed]);
  }
  options.progress('containerd ready; importing images');
  const pauseArchive = writePauseImage(options.binaries.pause, nodeDir);
  for (const archive of [pauseArchive, ...options.images])
    await importImage(paths, archive, log('image-import'));
  return paths;
}

function startKubelet(
  options: StartNodeOptions,
  group: ProcessGroup,
  nodeDir: string,
  containerd: ContainerdPaths,
  ports: { port: number; healthzPort: number },
  log: NodeLog,
): void {
  const network = POD_NETWORK;
  const kubeletConfigPath = join(nodeDir, 'kubelet-config.json');
  writeFileSync(
    kubeletConfigPath,
    kubeletConfig({
      nodeName: REAL_NODE_NAME,
      network,
      containerdSocket: containerd.socket,
      caCert: options.credentials.caCert,
      servingCert: options.credentials.kubeletServingCert,
      servingKey: options.credentials.kubeletServingKey,
      port: ports.port,
      healthzPort: ports.healthzPort,
      podLogsDir: join(nodeDir, 'pod-logs'),
    }),
  );
  group.start(
    'kubelet',
    options.binaries.kubelet,
    [
      `--config=${kubeletConfigPath}`,
      `--kubeconfig=${options.credentials.kubeletKubeconfig}`,
      `--root-dir=${join(nodeDir, 'kubelet')}`,
      `--cert-dir=${join(nodeDir, 'kubelet-pki')}`,
      `--hostname-override=${REAL_NODE_NAME}`,
      `--node-ip=${network.gateway}`,
    ],
    log('kubelet'),
  );
}

function startKubeProxy(
  options: StartNodeOptions,
  group: ProcessGroup,
  nodeDir: string,
  ports: { healthzPort: number; metricsPort: number },
  log: NodeLog,
): void {
  const proxyConfigPath = join(nodeDir, 'kube-proxy-config.json');
  writeFileSync(
    proxyConfigPath,
    kubeProxyConfig(
      options.credentials.proxyKubeconfig,
      REAL_NODE_NAME,
      POD_NETWORK,
      ports.healthzPort,
      ports.metricsPort,
    ),
  );
  group.start(
    'kube-proxy',
    options.binaries['kube-proxy'],
    [`--config=${proxyConfigPath}`],
    log('kube-proxy'),
  );
}

function startScheduler(options: StartNodeOptions, group: ProcessGroup, port: number, log: NodeLog): void {
  const scheduler = options.credentials.schedulerKubeconfig;
  group.start(
    'kube-scheduler',
    options.binaries['kube-scheduler'],
    [
      `--kubeconfig=${scheduler}`,
      `--authentication-kubeconfig=${scheduler}`,
      `--authorization-kubeconfig=${scheduler}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--leader-elect=false',
    ],
    log('kube-scheduler'),
  );
}

/** containerd (with the images), then kubelet, kube-proxy and kube-scheduler on free ports. */
async function startNode(
  options: StartNodeOptions,
  group: ProcessGroup,
  nodeDir: string,
  containerdDir: string,
  logsDir: string,
): Promise<RealNode> {
  const log: NodeLog = (name) => join(logsDir, `${name}.log`);
  const paths = await startContainerdWithImages(options, group, nodeDir, containerdDir, log);
  const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, schedulerPort] = await Promise.all(
    Array.from({ length: 5 }, () => options.freePort()),
  );
  startKubelet(
    options,
    group,
    nodeDir,
    paths,
    { port: kubeletPort as number, healthzPort: kubeletHealthz as number },
    log,
  );
  startKubeProxy(
    options,
    group,
    nodeDir,
    { healthzPort: proxyHealthz as number, metricsPort: proxyMetrics as number },
    log,
  );
  startScheduler(options, group, schedulerPort as number, log);
  return { containerd: paths, pids: group.processes.map((p) => p.pid), group };
}
