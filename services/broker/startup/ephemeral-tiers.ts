/** Ephemeral mode (`config.launcher.mode: ephemeral`): the launcher and lifecycle of per-request tiers. */
import { formatPublicKeyLine, type SshPrivateKey } from '../../core/ssh-cert/index.js';
import type { BrokerConfig } from '../config.js';
import { createKubeTierLauncher } from '../launcher/kube-tier-launcher.js';
import { createTierLifecycle, type TierLifecycle } from '../launcher/tier-lifecycle.js';
import { loadKubeConfig } from './kube-config.js';
import type { BrokerOverrides } from './overrides.js';

/**
 * Ephemeral mode's hooks from `config.launcher`, and the host CA's public
 * key line (published with every user certificate); undefined in standing
 * mode.
 */
export function ephemeralTiers(
  config: BrokerConfig,
  overrides: BrokerOverrides,
  hostCa: SshPrivateKey | undefined,
  deps: Omit<Parameters<typeof createTierLifecycle>[0], 'launcher'>,
): { tiers: TierLifecycle; hostCaPublicKey: string } | undefined {
  const settings = config.launcher;
  if (settings?.mode !== 'ephemeral' || hostCa === undefined) return undefined;
  const hostCaPublicKey = formatPublicKeyLine(hostCa.publicKey, 'airlock-host-ca');
  const launcher =
    overrides.tierLauncher ??
    createKubeTierLauncher({
      kubeConfig: loadKubeConfig(settings.kubeconfig),
      namespace: settings.namespace,
      cluster: settings.cluster,
      images: settings.images,
      ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
      ...(settings.auditStore ? { auditStore: settings.auditStore } : {}),
      hostCa,
    });
  return { tiers: createTierLifecycle({ ...deps, launcher }), hostCaPublicKey };
}
