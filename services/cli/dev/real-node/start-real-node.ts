import type { ClusterBinaries } from '../cluster-binaries.js';
import type { ClusterPki } from '../cluster-pki.js';
import { runQuiet } from '../host-commands.js';
import type { PreparedNode, RealNode } from './real-node.js';

/** What the hermetic cluster hands its real node once the control plane answers. */
export interface RealNodeContext {
  server: string;
  pki: ClusterPki;
  binaries: ClusterBinaries;
  kubeletKubeconfig: string;
  /** cluster-admin */
  kubeconfigPath: string;
  freePort: () => Promise<number>;
  progress: (line: string) => void;
  /** Polls `probe` until true; fails when the deadline passes or a cluster process (or `nodeCrashed`) dies. */
  waitFor: (what: string, nodeCrashed: Promise<never>, probe: () => Promise<boolean>) => Promise<void>;
  httpsGet: (path: string) => Promise<{ status: number; body: string }>;
  writeKubeconfig: (name: string, cert: string, key: string, user: string) => string;
  images: string[];
  logsDir: string;
}

interface NodeStatus {
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Starts the real node's processes against a running control plane and
 * waits until the node is Ready and schedulable. Binds the apiserver's
 * kubelet client identity to system:kubelet-api-admin (REAL-NODE.md fix 4),
 * so logs, exec and port-forward through the kubelet are authorized.
 */
export async function startRealNode(node: PreparedNode, ctx: RealNodeContext): Promise<RealNode> {
  const kubectl = (...args: string[]) =>
    runQuiet(ctx.binaries.kubectl, ['--kubeconfig', ctx.kubeconfigPath, ...args], 'CLUSTER_START_FAILED');
  kubectl(
    'create',
    'clusterrolebinding',
    'airlock-hermetic:apiserver-kubelet-client',
    '--clusterrole=system:kubelet-api-admin',
    '--user=kube-apiserver-kubelet-client',
  );
  const { pki } = ctx;
  if (!pki.proxyCert || !pki.proxyKey || !pki.schedulerCert || !pki.schedulerKey) {
    throw new Error('the cluster PKI was made without the real node certificates');
  }
  const started = await node.start({
    binaries: ctx.binaries,
    credentials: {
      caCert: pki.caCert,
      kubeletKubeconfig: ctx.kubeletKubeconfig,
      kubeletServingCert: pki.kubeletServingCert,
      kubeletServingKey: pki.kubeletServingKey,
      proxyKubeconfig: ctx.writeKubeconfig('kube-proxy', pki.proxyCert, pki.proxyKey, 'system:kube-proxy'),
      schedulerKubeconfig: ctx.writeKubeconfig(
        'kube-scheduler',
        pki.schedulerCert,
        pki.schedulerKey,
        'system:kube-scheduler',
      ),
    },
    images: ctx.images,
    freePort: ctx.freePort,
    progress: ctx.progress,
    lookupService: async (namespace, name) => {
      const res = await ctx.httpsGet(`/api/v1/namespaces/${namespace}/services/${name}`);
      if (res.status !== 200) return undefined;
      const ip = (JSON.parse(res.body) as { spec?: { clusterIP?: string } }).spec?.clusterIP;
      return ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined;
    },
  });
  const nodeCrashed = started.group.watchForCrash();
  nodeCrashed.catch(() => {});
  await ctx.waitFor(`node ${node.nodeName} Ready`, nodeCrashed, async () => {
    const res = await ctx.httpsGet(`/api/v1/nodes/${node.nodeName}`);
    if (res.status !== 200) return false;
    const status = JSON.parse(res.body) as NodeStatus;
    const ready = status.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const tainted = status.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'));
    return Boolean(ready) && !tainted;
  });
  return started;
}
