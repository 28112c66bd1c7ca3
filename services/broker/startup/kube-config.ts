/** The KubeConfig every Kubernetes client of the broker starts from. */
import { KubeConfig } from '@kubernetes/client-node';

/** A KubeConfig from `file`, or the pod's in-cluster ServiceAccount when no file is named. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}
