/** The broker's ops server (`config.ops`): /healthz, /readyz and /metrics. */
import type { AuditTrail } from '../../core/audit/index.js';
import { type Metrics, startOpsServer } from '../../core/observability/ops-server.js';
import type { BrokerConfig } from '../config.js';
import type { RequestStore } from '../request-store.js';
import type { RevocationConfigMapPublisher } from '../revocation-config-map.js';
import { caKeyStillLoaded, type SshCaKeys } from './ssh-ca.js';

/**
 * Starts the ops server when `config.ops` is set. Ready while the SSH CA is
 * loadable and unchanged, the audit trail and store are healthy and (when
 * configured) the revocation ConfigMap holds what was revoked here.
 */
export async function startBrokerOps(
  config: BrokerConfig,
  metrics: Metrics,
  parts: {
    readonly sshCa: SshCaKeys;
    readonly audit: AuditTrail;
    readonly store: RequestStore;
    readonly publisher: RevocationConfigMapPublisher | undefined;
  },
): Promise<{ port: number; close(): Promise<void> } | undefined> {
  if (!config.ops) return undefined;
  const { sshCa, audit, store, publisher } = parts;
  return startOpsServer({
    listen: config.ops.listen,
    metrics,
    checks: {
      // A keyring re-reads itself (and throws when it turns invalid); one key file is re-checked here.
      'ssh-ca': async () => {
        const { active } = sshCa();
        return config.sshCaKeyFile === undefined || caKeyStillLoaded(config.sshCaKeyFile, active);
      },
      audit: () => audit.healthy(),
      store: () => store.healthy(),
      ...(publisher ? { 'revocation-configmap': () => publisher.published() } : {}),
    },
  });
}
