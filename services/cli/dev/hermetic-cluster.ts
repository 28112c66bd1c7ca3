import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { crashError, ProcessGroup, type SupervisedProcess } from './child-processes.js';
import { type ClusterBinaries, ensureClusterBinaries } from './cluster-binaries.js';
import { type ClusterPki, createClusterPki } from './cluster-pki.js';
import { AUDIT_POLICY, freePort, httpsGet, kubeconfig, waitFor } from './cluster-support.js';
import type { JanitorReport } from './real-node/janitor.js';
import {
  KUBERNETES_SERVICE_IP,
  type PreparedNode,
  prepareRealNode,
  REAL_NODE_CONTROLLERS,
} from './real-node/real-node.js';
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

/**
 * Builds (if needed) and starts etcd, kube-apiserver, kube-controller-manager
 * and the fake kubelet on random free ports of 127.0.0.1, and resolves once
 * /readyz answers and the node is registered. On any failure every process
 * already started is stopped before the error is thrown.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<HermeticCluster> {
  const progress = options.onProgress ?? (() => {});
  const binaries = await ensureClusterBinaries({ onProgress: progress });
  const temporary = options.stateDir === undefined;
  const stateDir = resolve(options.stateDir ?? mkdtempSync(join(tmpdir(), 'airlock-cluster-')));
  const started = Date.now();
  const dirs = {
    pki: join(stateDir, 'pki'),
    etcd: join(stateDir, 'etcd'),
    logs: join(stateDir, 'logs'),
    kubelet: join(stateDir, 'kubelet'),
  };
  rmSync(dirs.etcd, { recursive: true, force: true });
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });

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
  const [etcdClient, etcdPeer, apiserverPort, kcmPort, kubeletPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const server = `https://${host}:${apiserverPort}`;
  const auditLogPath = join(stateDir, 'kube-audit.log');
  const auditPolicyPath = join(stateDir, 'audit-policy.yaml');
  writeFileSync(auditPolicyPath, AUDIT_POLICY);
  const kubeconfigPath = join(stateDir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    kubeconfig(server, pki.caCert, pki.adminCert, pki.adminKey, 'airlock-dev-admin'),
    {
      mode: 0o600,
    },
  );
  const controllerManagerKubeconfig = join(dirs.pki, 'controller-manager.kubeconfig');
  writeFileSync(
    controllerManagerKubeconfig,
    kubeconfig(
      server,
      pki.caCert,
      pki.controllerManagerCert,
      pki.controllerManagerKey,
      'system:kube-controller-manager',
    ),
  );
  const kubeletKubeconfig = join(dirs.pki, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    kubeconfig(server, pki.caCert, pki.kubeletClientCert, pki.kubeletClientKey, `system:node:${nodeName}`),
  );

  const group = new ProcessGroup();
  const log = (name: string) => join(dirs.logs, `${name}.log`);
  let apiserverArgs: string[] = [];
  let apiserver: SupervisedProcess | undefined;
  const apiserverReady = (deadline: number, crashed: Promise<never>) =>
    waitFor('kube-apiserver /readyz', deadline, crashed, async () => {
      const res = await httpsGet(`${server}/readyz`, pki);
      return res.status === 200;
    });
  const stop = async () => {
    await stopNode();
    await group.stopAll();
    if (temporary) rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    group.start(
      'etcd',
      binaries.etcd,
      [
        `--data-dir=${dirs.etcd}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      log('etcd'),
    );
    apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${host}`,
      `--advertise-address=${host}`,
      `--secure-port=${apiserverPort}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--api-audiences=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-client-certificate=${pki.apiserverKubeletClientCert}`,
      `--kubelet-client-key=${pki.apiserverKubeletClientKey}`,
      // A real node's pods reach the apiserver through the `kubernetes` Service: keep its endpoints.
      `--endpoint-reconciler-type=${real ? 'lease' : 'none'}`,
      `--audit-policy-file=${auditPolicyPath}`,
      `--audit-log-path=${auditLogPath}`,
      '--audit-log-mode=blocking',
      '--profiling=false',
    ];
    apiserver = group.start(
      'kube-apiserver',
      binaries['kube-apiserver'],
      apiserverArgs,
      log('kube-apiserver'),
    );
    const crashed = group.watchForCrash();
    crashed.catch(() => {});
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    await apiserverReady(deadline, crashed);

    group.start(
      'kube-controller-manager',
      binaries['kube-controller-manager'],
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        '--leader-elect=false',
        `--controllers=${[
          'csrsigning,csrapproving,csrcleaner,serviceaccount,serviceaccount-token,namespace,garbagecollector,root-ca-cert-publisher',
          ...(real ? REAL_NODE_CONTROLLERS : []),
        ].join(',')}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        '--use-service-account-credentials=true',
        '--profiling=false',
      ],
      log('kube-controller-manager'),
    );
    if (node) {
      node.adopt(group.processes.map((p) => p.pid));
      await startRealNode(node, {
        server,
        pki,
        binaries,
        kubeletKubeconfig,
        kubeconfigPath,
        freePort,
        progress,
        waitFor: (what, nodeCrashed, probe) => {
          const crashedNow = group.watchForCrash();
          crashedNow.catch(() => {});
          return waitFor(what, deadline, Promise.race([crashedNow, nodeCrashed]), probe);
        },
        httpsGet: (path) => httpsGet(`${server}${path}`, pki),
        writeKubeconfig: (name, cert, key, user) => {
          const path = join(dirs.pki, `${name}.kubeconfig`);
          writeFileSync(path, kubeconfig(server, pki.caCert, cert, key, user), { mode: 0o600 });
          return path;
        },
        images: options.images ?? [],
        logsDir: dirs.logs,
      });
    } else {
      group.start(
        'fake-kubelet',
        binaries['fake-kubelet'],
        [
          `--kubeconfig=${kubeletKubeconfig}`,
          `--node-name=${nodeName}`,
          `--port=${kubeletPort}`,
          `--state-dir=${dirs.kubelet}`,
          `--tls-cert-file=${pki.kubeletServingCert}`,
          `--tls-private-key-file=${pki.kubeletServingKey}`,
          `--client-ca-file=${pki.caCert}`,
          '--client-cn=kube-apiserver-kubelet-client',
        ],
        log('fake-kubelet'),
      );
      const crashedLater = group.watchForCrash();
      crashedLater.catch(() => {});
      await waitFor(`node ${nodeName} Ready`, deadline, crashedLater, async () => {
        const res = await httpsGet(`${server}/api/v1/nodes/${nodeName}`, pki);
        return (
          res.status === 200 &&
          JSON.parse(res.body).status?.daemonEndpoints?.kubeletEndpoint?.Port === kubeletPort
        );
      });
    }
    const crashedLast = group.watchForCrash();
    crashedLast.catch(() => {});
    await waitFor('the default ServiceAccount', deadline, crashedLast, async () => {
      const res = await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, pki);
      return res.status === 200;
    });
  } catch (error) {
    await stop();
    throw error;
  }

  const startupMs = Date.now() - started;
  progress(`cluster ready in ${(startupMs / 1000).toFixed(1)} s at ${server}`);
  return {
    stateDir,
    kubeconfigPath,
    server,
    auditLogPath,
    pki,
    binaries,
    nodeName,
    nodeMode: real ? 'real' : 'fake',
    get janitorReport() {
      return janitorReport;
    },
    logsDir: dirs.logs,
    kubeletStateDir: dirs.kubelet,
    startupMs,
    get pids() {
      return group.processes
        .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
        .map((p) => p.pid);
    },
    async stopApiServer() {
      await group.stopOne(apiserver!);
    },
    async startApiServer() {
      if (apiserver && apiserver.child.exitCode === null && apiserver.child.signalCode === null) {
        throw new AirlockError('CLUSTER_START_FAILED', 'the kube-apiserver is already running');
      }
      apiserver = group.start(
        'kube-apiserver',
        binaries['kube-apiserver'],
        apiserverArgs,
        log('kube-apiserver'),
      );
      const exited = apiserver.exited.then((status) => {
        throw crashError(apiserver!, status);
      });
      exited.catch(() => {});
      await apiserverReady(Date.now() + (options.readyTimeoutMs ?? 120_000), exited);
    },
    stop,
  };
}
