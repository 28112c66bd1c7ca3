/** What the global setup tells tests about the hermetic cluster. */
export interface ClusterInfo {
  kubeconfigPath: string;
  server: string;
  auditLogPath: string;
  kubeletStateDir: string;
  caCertPath: string;
  kubectlPath: string;
  nodeName: string;
  /** One log file per cluster process (etcd.log, kube-apiserver.log, …). */
  logsDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}
