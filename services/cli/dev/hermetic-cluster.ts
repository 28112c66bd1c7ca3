import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { freePort } from '../../core/service/free-port.js';
import { crashError, ProcessGroup, type SupervisedProcess } from './child-processes.js';
import { type ClusterBinaries, ensureClusterBinaries } from './cluster-binaries.js';
import { type ClusterPki, createClusterPki } from './cluster-pki.js';
import { httpsGet, kubeconfig, waitFor } from './cluster-support.js';
import {
  apiserverFlags,
  type ClusterFiles,
  startControllerManager,
  startEtcd,
  startFakeNode,
  waitForDefaultServiceAccount,
  writeClusterFiles,
} from './hermetic-control-plane.js';
import type { JanitorReport } from './real-node/janitor.js';
import { KUBERNETES_SERVICE_IP, type PreparedNode, prepareRealNode } from './real-node/real-node.js';
import { startRealNode } from './real-node/start-real-node.js';

export const NODE_NAME = 'fake-node';

export interface StartClusterOptions {
  /** Where kubeconfig, kube-audit.log, PKI, etcd data and logs go; a temp dir by default. */
  stateDir?: string;
  /** Progress lines for a person watching (build, start, ready). */
  onProgress?: (line: string) => void;
  /** How long to wait for /readyz and the node; default 120 s. */
  readyTimeoutMs?: number;
  /**
   * `fake` (default): the fake kubelet runs container commands as host
   * processes. `real`: containerd, a real kubelet, kube-proxy and
   * kube-scheduler run real pods (services/cli/dev/real-node/; root,
   * containerd, runc and the CNI plugins needed; one per machine).
   */
  node?: 'fake' | 'real';
  /** Real node: image archives (`docker save`) to import into containerd. */
  images?: string[];
}

/** A running hermetic cluster. Everything is on 127.0.0.1. */
export interface HermeticCluster {
  readonly stateDir: string;
  /** cluster-admin kubeconfig (client certificate in system:masters). */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly auditLogPath: string;
  readonly pki: ClusterPki;
  readonly binaries: ClusterBinaries;
  readonly nodeName: string;
  /** One log file per process: etcd.log, kube-apiserver.log, kube-controller-manager.log, fake-kubelet.log. */
  readonly logsDir: string;
  /** Where the fake kubelet keeps pod directories and container log files. */
  readonly kubeletStateDir: string;
  /** Start-to-ready time of this cluster, in milliseconds (build excluded). */
  readonly startupMs: number;
  /** `fake` or `real` (see StartClusterOptions.node). */
  readonly nodeMode: 'fake' | 'real';
  /** Real node: what its janitor undid when the cluster stopped (after `stop()`). */
  readonly janitorReport: JanitorReport | undefined;
  /** Process ids of everything this cluster started that is still running. */
  readonly pids: readonly number[];
  /**
   * Stops the kube-apiserver (SIGTERM, as a rolling restart does; SIGKILL
   * after 5 s) and resolves once it has exited. etcd, the controller manager
   * and the kubelet keep running; clients see the API's port refuse
   * connections. For fault tests (test/adversarial/apiserver-restart.test.ts).
   */
  stopApiServer(): Promise<void>;
  /**
   * Starts the kube-apiserver again with the same port, certificates and etcd
   * (so every client's kubeconfig stays valid) and resolves once /readyz
   * answers 200.
   */
  startApiServer(): Promise<void>;
  /** Stops every process and, if the state dir was a temp dir, removes it. */
  stop(): Promise<void>;
}

/** The state dir's subdirectories. */
interface ClusterDirs {
  readonly pki: string;
  readonly etcd: string;
  readonly logs: string;
  /** The fake kubelet's pod directories and container logs. */
  readonly kubelet: string;
}

/** The state dir's subdirectories, created 0700; etcd's data is removed so every start begins empty. */
function createClusterDirs(stateDir: string): ClusterDirs {
  const dirs = {
    pki: join(stateDir, 'pki'),
    etcd: join(stateDir, 'etcd'),
    logs: join(stateDir, 'logs'),
    kubelet: join(stateDir, 'kubelet'),
  };
  rmSync(dirs.etcd, { recursive: true, force: true });
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dirs;
}

/** Hands the prepared real node the running control plane and waits until it is Ready. */
async function startRealNodeFor(
  node: PreparedNode,
  group: ProcessGroup,
  options: {
    server: string;
    pki: ClusterPki;
    binaries: ClusterBinaries;
    files: ClusterFiles;
    progress: (line: string) => void;
    deadline: number;
    pkiDir: string;
    images: string[];
    logsDir: string;
  },
): Promise<void> {
  const { server, pki, deadline } = options;
  node.adopt(group.processes.map((p) => p.pid));
  await startRealNode(node, {
    server,
    pki,
    binaries: options.binaries,
    kubeletKubeconfig: options.files.kubeletKubeconfig,
    kubeconfigPath: options.files.kubeconfigPath,
    freePort,
    progress: options.progress,
    waitFor: (what, nodeCrashed, probe) => {
      const crashedNow = group.watchForCrash();
      crashedNow.catch(() => {});
      return waitFor(what, deadline, Promise.race([crashedNow, nodeCrashed]), probe);
    },
    httpsGet: (path) => httpsGet(`${server}${path}`, pki),
    writeKubeconfig: (name, cert, key, user) => {
      const path = join(options.pkiDir, `${name}.kubeconfig`);
      writeFileSync(path, kubeconfig(server, pki.caCert, cert, key, user), { mode: 0o600 });
      return path;
    },
    images: options.images,
    logsDir: options.logsDir,
  });
}

/** Process ids of the group's processes that have not exited. */
function livePids(group: ProcessGroup): number[] {
  return group.processes
    .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    .map((p) => p.pid);
}

/**
 * `stopApiServer` and `startApiServer` of a started cluster (see
 * HermeticCluster), beginning with the kube-apiserver already running.
 */
function apiServerRestarts(
  group: ProcessGroup,
  running: SupervisedProcess,
  startApiServerProcess: () => SupervisedProcess,
  apiserverReady: (deadline: number, crashed: Promise<never>) => Promise<void>,
  readyTimeoutMs: number,
): Pick<HermeticCluster, 'stopApiServer' | 'startApiServer'> {
  let apiserver = running;
  return {
    async stopApiServer() {
      await group.stopOne(apiserver);
    },
    async startApiServer() {
      if (apiserver.child.exitCode === null && apiserver.child.signalCode === null) {
        throw new AirlockError('CLUSTER_START_FAILED', 'the kube-apiserver is already running');
      }
      apiserver = startApiServerProcess();
      const exited = apiserver.exited.then((status) => {
        throw crashError(apiserver, status);
      });
      exited.catch(() => {});
      await apiserverReady(Date.now() + readyTimeoutMs, exited);
    },
  };
}

/** Where and how a cluster runs: decided, and its files written, before any of its processes starts. */
interface ClusterLayout {
  readonly binaries: ClusterBinaries;
  readonly stateDir: string;
  /** The state dir is a temp dir, removed on stop. */
  readonly temporary: boolean;
  /** When the start began (after the build). */
  readonly started: number;
  readonly dirs: ClusterDirs;
  readonly real: boolean;
  readonly node: PreparedNode | undefined;
  readonly nodeName: string;
  readonly host: string;
  readonly pki: ClusterPki;
  readonly ports: {
    readonly etcdClient: number;
    readonly etcdPeer: number;
    readonly apiserver: number;
    readonly controllerManager: number;
    readonly kubelet: number;
  };
  readonly server: string;
  readonly files: ClusterFiles;
  /** Stops the real node, if any, keeping its janitor's report. */
  readonly stopNode: () => Promise<void>;
  readonly janitorReport: () => JanitorReport | undefined;
}

/**
 * Builds the binaries if needed, creates the state dir, prepares the real
 * node (if asked for), the PKI, the ports and the kubeconfigs. A PKI
 * failure stops the prepared node before it is thrown.
 */
async function layOutCluster(
  options: StartClusterOptions,
  progress: (line: string) => void,
): Promise<ClusterLayout> {
  const binaries = await ensureClusterBinaries({ onProgress: progress });
  const temporary = options.stateDir === undefined;
  const stateDir = resolve(options.stateDir ?? mkdtempSync(join(tmpdir(), 'airlock-cluster-')));
  const started = Date.now();
  const dirs = createClusterDirs(stateDir);

  const real = options.node === 'real';
  let node: PreparedNode | undefined;
  if (real) node = prepareRealNode(stateDir, temporary, dirs.logs);
  const nodeName = node?.nodeName ?? NODE_NAME;
  const host = node?.network.gateway ?? '127.0.0.1';
  let janitorReport: JanitorReport | undefined;
  const stopNode = async () => {
    if (node) janitorReport = await node.stop();
  };
  let pki: ClusterPki;
  try {
    pki = createClusterPki(
      dirs.pki,
      nodeName,
      node ? { nodeIp: node.network.gateway, serviceIp: KUBERNETES_SERVICE_IP } : undefined,
    );
  } catch (error) {
    await stopNode();
    throw error;
  }
  const [etcdClient, etcdPeer, apiserverPort, kcmPort, kubeletPort] = (await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  )) as [number, number, number, number, number];
  const server = `https://${host}:${apiserverPort}`;
  const files = writeClusterFiles(stateDir, dirs.pki, server, pki, nodeName);
  return {
    binaries,
    stateDir,
    temporary,
    started,
    dirs,
    real,
    node,
    nodeName,
    host,
    pki,
    ports: {
      etcdClient,
      etcdPeer,
      apiserver: apiserverPort,
      controllerManager: kcmPort,
      kubelet: kubeletPort,
    },
    server,
    files,
    stopNode,
    janitorReport: () => janitorReport,
  };
}

/** The handle startCluster returns, once the cluster is ready. */
function clusterHandle(
  layout: ClusterLayout,
  group: ProcessGroup,
  startupMs: number,
  restarts: Pick<HermeticCluster, 'stopApiServer' | 'startApiServer'>,
  stop: () => Promise<void>,
): HermeticCluster {
  const { dirs } = layout;
  return {
    stateDir: layout.stateDir,
    kubeconfigPath: layout.files.kubeconfigPath,
    server: layout.server,
    auditLogPath: layout.files.auditLogPath,
    pki: layout.pki,
    binaries: layout.binaries,
    nodeName: layout.nodeName,
    nodeMode: layout.real ? 'real' : 'fake',
    get janitorReport() {
      return layout.janitorReport();
    },
    logsDir: dirs.logs,
    kubeletStateDir: dirs.kubelet,
    startupMs,
    get pids() {
      return livePids(group);
    },
    stopApiServer: restarts.stopApiServer,
    startApiServer: restarts.startApiServer,
    stop,
  };
}

/**
 * Builds (if needed) and starts etcd, kube-apiserver, kube-controller-manager
 * and the fake kubelet on random free ports of 127.0.0.1, and resolves once
 * /readyz answers and the node is registered. On any failure every process
 * already started is stopped before the error is thrown.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<HermeticCluster> {
  const progress = options.onProgress ?? (() => {});
  const layout = await layOutCluster(options, progress);
  const { binaries, dirs, real, node, nodeName, host, pki, ports, server, files } = layout;

  const group = new ProcessGroup();
  const log = (name: string) => join(dirs.logs, `${name}.log`);
  let apiserverArgs: string[] = [];
  const startApiServerProcess = () =>
    group.start('kube-apiserver', binaries['kube-apiserver'], apiserverArgs, log('kube-apiserver'));
  let apiserver: SupervisedProcess | undefined;
  const apiserverReady = (deadline: number, crashed: Promise<never>) =>
    waitFor('kube-apiserver /readyz', deadline, crashed, async () => {
      const res = await httpsGet(`${server}/readyz`, pki);
      return res.status === 200;
    });
  const stop = async () => {
    await layout.stopNode();
    await group.stopAll();
    if (layout.temporary) rmSync(layout.stateDir, { recursive: true, force: true });
  };
  try {
    const etcdUrl = startEtcd(
      group,
      binaries,
      dirs.etcd,
      { client: ports.etcdClient, peer: ports.etcdPeer },
      log,
    );
    apiserverArgs = apiserverFlags({ etcdUrl, host, port: ports.apiserver, pki, real, files });
    apiserver = startApiServerProcess();
    const crashed = group.watchForCrash();
    crashed.catch(() => {});
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    await apiserverReady(deadline, crashed);

    const controllerManager = {
      kubeconfigPath: files.controllerManagerKubeconfig,
      port: ports.controllerManager,
      pki,
      real,
    };
    startControllerManager(group, binaries, controllerManager, log);
    if (node) {
      await startRealNodeFor(node, group, {
        server,
        pki,
        binaries,
        files,
        progress,
        deadline,
        pkiDir: dirs.pki,
        images: options.images ?? [],
        logsDir: dirs.logs,
      });
    } else {
      const kubelet = {
        server,
        pki,
        kubeletKubeconfig: files.kubeletKubeconfig,
        nodeName,
        port: ports.kubelet,
      };
      await startFakeNode(group, binaries, { ...kubelet, stateDir: dirs.kubelet, deadline }, log);
    }
    await waitForDefaultServiceAccount(group, server, pki, deadline);
  } catch (error) {
    await stop();
    throw error;
  }

  const startupMs = Date.now() - layout.started;
  progress(`cluster ready in ${(startupMs / 1000).toFixed(1)} s at ${server}`);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const restarts = apiServerRestarts(group, apiserver, startApiServerProcess, apiserverReady, readyTimeoutMs);
  return clusterHandle(layout, group, startupMs, restarts, stop);
}
