/** The test seams of `startBroker` (services/broker/main.ts); production passes none. */
import type { LogEntry } from '../../core/observability/logging.js';
import type { TokenReviewer } from '../identity.js';
import type { KubeCsrSigner } from '../kube-csr-signer.js';
import type { TierLauncher } from '../launcher/tier-launcher.js';
import type { ConfigMapApi } from '../revocation-config-map.js';

/** Seams for tests; production passes none. */
export interface BrokerOverrides {
  readonly clock?: () => Date;
  /** Replaces the TokenReview client built from `config.kubernetes.kubeconfig`. */
  readonly tokenReviewer?: TokenReviewer;
  /** Replaces the CSR signer built from `config.kubeCertificates.kubeconfig`. */
  readonly kubeCsrSigner?: KubeCsrSigner;
  /** Replaces the ConfigMap client built from `config.revocationConfigMap.kubeconfig`. */
  readonly configMapApi?: ConfigMapApi;
  /** Operator log; default the tier's pino logger on stdout (services/core/observability/logging.ts). */
  readonly log?: (entry: LogEntry) => void;
  /** Replaces the tier launcher built from `config.launcher` (ephemeral mode). */
  readonly tierLauncher?: TierLauncher;
}
