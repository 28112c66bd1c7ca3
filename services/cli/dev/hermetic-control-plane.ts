/**
 * The hermetic cluster's files and processes, one function per component:
 * the kubeconfigs and audit policy, etcd, the kube-apiserver's flags,
 * kube-controller-manager and the fake kubelet. `startCluster`
 * (hermetic-cluster.ts) calls them in order and owns the process group.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup } from './child-processes.js';
import type { ClusterBinaries } from './cluster-binaries.js';
import type { ClusterPki } from './cluster-pki.js';
import { AUDIT_POLICY, httpsGet, kubeconfig, waitFor } from './cluster-support.js';
import { REAL_NODE_CONTROLLERS } from './real-node/real-node.js';

/** The log file of one cluster process. */
export type ClusterLog = (name: string) => string;

/** Files the cluster's processes and its users read. */
export interface ClusterFiles {
  readonly auditLogPath: string;
  readonly auditPolicyPath: string;
  /** cluster-admin. */
  readonly kubeconfigPath: string;
  readonly controllerManagerKubeconfig: string;
  readonly kubeletKubeconfig: string;
}

/** Writes the audit policy and the admin, controller manager and kubelet kubeconfigs. */
export function writeClusterFiles(
  stateDir: string,
  pkiDir: string,
  server: string,
  pki: ClusterPki,
  nodeName: string,
): ClusterFiles {
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
  const controllerManagerKubeconfig = join(pkiDir, 'controller-manager.kubeconfig');
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
  const kubeletKubeconfig = join(pkiDir, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    kubeconfig(server, pki.caCert, pki.kubeletClientCert, pki.kubeletClientKey, `system:node:${nodeName}`),
  );
  return { auditLogPath, auditPolicyPath, kubeconfigPath, controllerManagerKubeconfig, kubeletKubeconfig };
}

/** Starts a single-member etcd on 127.0.0.1; returns its client URL. */
export function startEtcd(
  group: ProcessGroup,
  binaries: ClusterBinaries,
  dataDir: string,
  ports: { client: number; peer: number },
  log: ClusterLog,
): string {
  const etcdUrl = `http://127.0.0.1:${ports.client}`;
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  group.start(
    'etcd',
    binaries.etcd,
    [
      `--data-dir=${dataDir}`,
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
  return etcdUrl;
}

/** The kube-apiserver's flags (the same for its first start and any restart). */
export function apiserverFlags(options: {
  etcdUrl: string;
  host: string;
  port: number;
  pki: ClusterPki;
  /** A real node: keep the `kubernetes` Service's endpoints. */
  real: boolean;
  files: ClusterFiles;
}): string[] {
  const { etcdUrl, host, pki, real, files } = options;
  return [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${host}`,
    `--advertise-address=${host}`,
    `--secure-port=${options.port}`,
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
    `--audit-policy-file=${files.auditPolicyPath}`,
    `--audit-log-path=${files.auditLogPath}`,
    '--audit-log-mode=blocking',
    '--profiling=false',
  ];
}

/** Starts kube-controller-manager with the controllers the fake (or real) node needs. */
export function startControllerManager(
  group: ProcessGroup,
  binaries: ClusterBinaries,
  options: { kubeconfigPath: string; port: number; pki: ClusterPki; real: boolean },
  log: ClusterLog,
): void {
  const { kubeconfigPath, pki } = options;
  group.start(
    'kube-controller-manager',
    binaries['kube-controller-manager'],
    [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${options.port}`,
      '--leader-elect=false',
      `--controllers=${[
        'csrsigning,csrapproving,csrcleaner,serviceaccount,serviceaccount-token,namespace,garbagecollector,root-ca-cert-publisher',
        ...(options.real ? REAL_NODE_CONTROLLERS : []),
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
}

/** Starts the fake kubelet and waits until its node reports the kubelet's port. */
export async function startFakeNode(
  group: ProcessGroup,
  binaries: ClusterBinaries,
  options: {
    server: string;
    pki: ClusterPki;
    kubeletKubeconfig: string;
    nodeName: string;
    port: number;
    stateDir: string;
    deadline: number;
  },
  log: ClusterLog,
): Promise<void> {
  const { server, pki, nodeName } = options;
  group.start(
    'fake-kubelet',
    binaries['fake-kubelet'],
    [
      `--kubeconfig=${options.kubeletKubeconfig}`,
      `--node-name=${nodeName}`,
      `--port=${options.port}`,
      `--state-dir=${options.stateDir}`,
      `--tls-cert-file=${pki.kubeletServingCert}`,
      `--tls-private-key-file=${pki.kubeletServingKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--client-cn=kube-apiserver-kubelet-client',
    ],
    log('fake-kubelet'),
  );
  const crashedLater = group.watchForCrash();
  crashedLater.catch(() => {});
  await waitFor(`node ${nodeName} Ready`, options.deadline, crashedLater, async () => {
    const res = await httpsGet(`${server}/api/v1/nodes/${nodeName}`, pki);
    return (
      res.status === 200 &&
      JSON.parse(res.body).status?.daemonEndpoints?.kubeletEndpoint?.Port === options.port
    );
  });
}

/** Waits until the controller manager has created the default ServiceAccount. */
export async function waitForDefaultServiceAccount(
  group: ProcessGroup,
  server: string,
  pki: ClusterPki,
  deadline: number,
): Promise<void> {
  const crashedLast = group.watchForCrash();
  crashedLast.catch(() => {});
  await waitFor('the default ServiceAccount', deadline, crashedLast, async () => {
    const res = await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, pki);
    return res.status === 200;
  });
}
