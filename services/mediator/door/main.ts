import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../core/observability/logging.js';
import { STREAM_TIER_RUNTIME_V8_FLAGS } from '../../core/service/node-flags.js';
import { serviceMain, sshReadyLines } from '../../core/service/service-main.js';
import {
  appendConfigLoaded,
  openPolicyAndAudit,
  splitListen,
  startConfiguredOps,
  startTierTelemetry,
} from '../../core/service/tier-start.js';
import { auditCaChanges, watchSshTrust } from '../../core/service/tier-trust.js';
import { loadOrCreateHostKey } from '../../core/ssh-cert/host-key.js';
import { type DoorConfig, loadDoorConfig } from './config.js';
import { createDoor, DEFAULT_DOOR_LIMITS, type DoorLimits } from './door-server.js';
import { createKubeMediatorResolver } from './kube-mediator-resolver.js';
import { InMemoryMediatorResolver, type MediatorResolver } from './mediator-resolver.js';

/** The resolver the config names: Kubernetes Services (only `list services` in one namespace), or a fixed map. */
function resolverOf(mediators: DoorConfig['mediators']): MediatorResolver {
  if ('kubernetes' in mediators) {
    const kubeConfig = new KubeConfig();
    if (mediators.kubernetes.kubeconfigFile) kubeConfig.loadFromFile(mediators.kubernetes.kubeconfigFile);
    else kubeConfig.loadFromCluster();
    return createKubeMediatorResolver(kubeConfig, mediators.kubernetes.namespace);
  }
  const fixed = new InMemoryMediatorResolver();
  for (const [requestId, address] of Object.entries(mediators.static)) {
    fixed.set(requestId, splitListen(address));
  }
  return fixed;
}

function limitsOf(limits: DoorConfig['limits']): DoorLimits {
  return {
    ...DEFAULT_DOOR_LIMITS,
    preAuthTimeoutMs: limits.preAuthTimeoutSeconds * 1000,
    maxUnauthenticatedPerSource: limits.maxUnauthenticatedPerSource,
    maxSessionsPerPrincipal: limits.maxSessionsPerPrincipal,
    mediatorReadyMs: limits.mediatorReadySeconds * 1000,
  };
}

/**
 * The door's composition root. It holds no signing key and no executor
 * credential; its only Kubernetes right (Kubernetes mode) is to list the
 * Services of the airlock namespace, to find a request's mediator.
 */
export async function runDoor(configPath: string) {
  const config = loadDoorConfig(configPath);
  const logger = createLogger({ tier: 'door', level: config.logLevel });
  const clock = () => new Date();
  const hostKey = loadOrCreateHostKey(config.hostKeyFile);
  const { policy, auditFsync, audit } = await openPolicyAndAudit(config, 'door', clock, logger);
  const { trustedSshCas, revocation } = watchSshTrust(
    config,
    clock,
    auditCaChanges(audit, 'trusted SSH user CA keys'),
  );
  const { telemetry, metrics } = startTierTelemetry('airlock-door');
  const door = createDoor({
    hostKey,
    trustedSshCas,
    revocation,
    policy: () => policy,
    resolver: resolverOf(config.mediators),
    audit,
    logger,
    clock,
    limits: limitsOf(config.limits),
    metrics,
    tracer: telemetry.tracer,
  });
  await appendConfigLoaded(
    audit,
    {
      listen: config.listen,
      host_key: hostKey.fingerprint,
      mediators: 'kubernetes' in config.mediators ? 'kubernetes' : 'static',
    },
    auditFsync,
  );
  const listen = splitListen(config.listen);
  const port = await door.listen(listen.port, listen.host);
  logger.info({ port, host_key: hostKey.fingerprint }, 'door listening (SSH)');
  const ops = await startConfiguredOps(config.ops, metrics, { audit: () => audit.healthy() });
  return {
    port,
    opsPort: ops?.port,
    hostKey,
    async stop() {
      await door.stop(config.drainSeconds * 1000);
      await ops?.close();
      await audit.close();
      await telemetry.shutdown();
    },
  };
}

const HELP = `Usage: node dist/services/mediator/door/main.js --config FILE

Runs the airlock jump door: a standing SSH server in front of the
per-request mediators. It admits OpenSSH user certificates exactly as the
mediator does, runs no shell or command, and forwards one thing: a
direct-tcpip channel to the mediator of the request named in the
certificate. Users reach their mediator with stock OpenSSH:
  ssh -J door.example.com <request-id> <command>
(airlock cert --door writes the ssh_config entry). Prints the host key
fingerprint at start: pin it in known_hosts. SIGTERM/SIGINT: stop accepting,
let open jumps finish (drainSeconds), then close them.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain(
    'door',
    HELP,
    async (configPath) => {
      const door = await runDoor(configPath);
      return { readyLines: sshReadyLines(door), stop: () => door.stop() };
    },
    STREAM_TIER_RUNTIME_V8_FLAGS,
  );
}
