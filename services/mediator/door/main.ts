import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../core/observability/logging.js';
import { Metrics, startOpsServer } from '../../core/observability/ops-server.js';
import { startTelemetry, telemetryOptionsFromEnv } from '../../core/observability/telemetry.js';
import { loadPolicy } from '../../core/policy/index.js';
import { serviceMain } from '../../core/service/service-main.js';
import {
  auditCaChanges,
  auditFsyncFromEnv,
  openTierAuditTrail,
  watchSshTrust,
} from '../../core/service/tier-trust.js';
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
    const separator = address.lastIndexOf(':');
    fixed.set(requestId, { host: address.slice(0, separator), port: Number(address.slice(separator + 1)) });
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
  const policy = loadPolicy(readFileSync(config.policyFile, 'utf8'));
  const auditFsync = auditFsyncFromEnv(process.env, (message) => logger.warn(message));
  const audit = await openTierAuditTrail(config.audit, 'door', clock, auditFsync);
  const { trustedSshCas, revocation } = watchSshTrust(
    config,
    clock,
    auditCaChanges(audit, 'trusted SSH user CA keys'),
  );
  const telemetry = startTelemetry(telemetryOptionsFromEnv(process.env, 'airlock-door'));
  const metrics = new Metrics({ processMetrics: true });
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
  await audit.append({
    event: 'config.loaded',
    actor: { kind: 'system' },
    target: {},
    details: {
      listen: config.listen,
      host_key: hostKey.fingerprint,
      mediators: 'kubernetes' in config.mediators ? 'kubernetes' : 'static',
      ...(auditFsync ? {} : { audit_fsync: false }),
    },
  });
  const separator = config.listen.lastIndexOf(':');
  const port = await door.listen(
    Number(config.listen.slice(separator + 1)),
    config.listen.slice(0, separator),
  );
  logger.info({ port, host_key: hostKey.fingerprint }, 'door listening (SSH)');
  const ops = config.ops
    ? await startOpsServer({ listen: config.ops.listen, metrics, checks: { audit: () => audit.healthy() } })
    : undefined;
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
  await serviceMain('door', HELP, async (configPath) => {
    const door = await runDoor(configPath);
    const ops = door.opsPort ? ` ops=${door.opsPort}` : '';
    return {
      readyLines: [
        `ready port=${door.port} host-key=${door.hostKey.fingerprint}${ops}`,
        `known_hosts: ${door.hostKey.publicKeyLine}`,
      ],
      stop: () => door.stop(),
    };
  });
}
