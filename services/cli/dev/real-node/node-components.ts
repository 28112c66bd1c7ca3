import { CLUSTER_DOMAIN } from './cluster-dns.js';
import type { PodNetwork } from './containerd.js';

export interface KubeletSettings {
  nodeName: string;
  network: PodNetwork;
  containerdSocket: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
  port: number;
  healthzPort: number;
  podLogsDir: string;
}

/**
 * The KubeletConfiguration measured to work on these machines (REAL-NODE.md):
 * cgroup v1 with the cgroupfs driver, no swap check, no node allocatable
 * enforcement, webhook authn/authz with the cluster CA, nothing listening on
 * 0.0.0.0 (the API on the node's bridge address, healthz on loopback), lax
 * eviction and image GC thresholds (a build machine's disk is not the pods').
 */
export function kubeletConfig(s: KubeletSettings): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupsPerQOS: true,
      enforceNodeAllocatable: [],
      containerRuntimeEndpoint: `unix://${s.containerdSocket}`,
      failSwapOn: false,
      protectKernelDefaults: false,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: s.caCert },
      },
      authorization: { mode: 'Webhook' },
      tlsCertFile: s.servingCert,
      tlsPrivateKeyFile: s.servingKey,
      address: s.network.gateway,
      port: s.port,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: s.healthzPort,
      evictionHard: {
        'memory.available': '50Mi',
        'nodefs.available': '1%',
        'nodefs.inodesFree': '1%',
        'imagefs.available': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      maxPods: 20,
      clusterDNS: [s.network.gateway],
      clusterDomain: CLUSTER_DOMAIN,
      resolvConf: '',
      podLogsDir: s.podLogsDir,
      serializeImagePulls: false,
      registerNode: true,
    },
    null,
    2,
  );
}

/**
 * kube-proxy in iptables mode, changing as little of the host as it can:
 * no conntrack sysctls, no localhost NodePorts (route_localnet stays 0),
 * NodePorts on the node's bridge address only, ports on loopback.
 */
export function kubeProxyConfig(
  kubeconfig: string,
  nodeName: string,
  network: PodNetwork,
  healthzPort: number,
  metricsPort: number,
): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig },
      mode: 'iptables',
      clusterCIDR: network.subnet,
      hostnameOverride: nodeName,
      bindAddress: network.gateway,
      healthzBindAddress: `127.0.0.1:${healthzPort}`,
      metricsBindAddress: `127.0.0.1:${metricsPort}`,
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { localhostNodePorts: false, masqueradeAll: false },
      nodePortAddresses: [`${network.gateway}/32`],
    },
    null,
    2,
  );
}
