import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { AuditTrail } from '../core/audit/types.js';
import { makeDirectory } from '../core/files/make-directory.js';
import { createKubeCsrSigner } from '../core/kube/kube-csr.js';
import { createLogger, type Logger } from '../core/observability/logging.js';
import { withBrokerWitness } from '../core/service/broker-witness.js';
import { STREAM_TIER_RUNTIME_V8_FLAGS } from '../core/service/node-flags.js';
import { CLOSE_CHECKPOINT_HELP, serviceMain } from '../core/service/service-main.js';
import {
  appendConfigLoaded,
  closeTier,
  openPolicyAndAudit,
  startConfiguredOps,
  startTierTelemetry,
} from '../core/service/tier-start.js';
import { auditCaChanges, openPeerCaBundle, openTierCa, watchSshTrust } from '../core/service/tier-trust.js';
import type { TierCa } from '../core/x509/index.js';
import { type ExecutorConfig, loadExecutorConfig } from './config.js';
import { createExecutorService } from './executor-service.js';
import {
  createCsrCredentials,
  createImpersonationCredentials,
  type KubeCredentials,
} from './kube-credentials.js';
import { createKubeGateway } from './kube-gateway.js';
import { startExecutorServer } from './server.js';
import { UsedSignatures } from './used-signatures.js';

/**
 * The executor's composition root: the only place that reads the
 * environment, files and flags. Everything below takes its dependencies as
 * arguments.
 */
export async function runExecutor(
  configPath: string,
): Promise<{ stop(): Promise<void>; port: number; opsPort: number | undefined }> {
  const config = loadExecutorConfig(configPath);
  const logger = createLogger({ tier: 'executor', level: config.logLevel });
  const clock = () => new Date();
  const { policy, auditFsync, audit } = await openPolicyAndAudit(config, 'executor', clock, logger);
  const witnessed = withBrokerWitness(
    audit,
    config.audit.brokerWitness,
    config.audit.witnessSeconds * 1000,
    (msg, err) => logger.warn({ err }, msg),
  );
  const { trustedSshCas, sshCaCount, revocation, mediatorCaBundle, executorCa } = await openTrust(
    config,
    audit,
    clock,
  );
  const kubeConfig = loadKubeConfig(config.kubeconfig);

  const { telemetry, metrics } = startTierTelemetry('airlock-executor');
  const usedSignatures = await openLoginRecord(config, clock, logger);
  const service = createExecutorService({
    tracer: telemetry.tracer,
    metrics,
    cluster: config.cluster,
    policy: () => policy,
    trustedSshCas,
    revocation,
    mediatorCas: () => mediatorCaBundle().certPems,
    kube: createKubeGateway(),
    kubeCredentials: kubeCredentialsFor(config, kubeConfig, clock, logger),
    audit: witnessed.audit,
    logger,
    clock,
    usedSignatures,
    maxSessionsPerUser: config.limits.maxSessionsPerUser,
  });
  await auditConfigLoaded(audit, config, {
    sshCaCount,
    profileCount: Object.keys(policy.profiles).length,
    loginRecordSince: usedSignatures.since,
    auditFsync,
  });
  const server = await startExecutorServer(service, {
    listen: config.listen,
    executorCa,
    mediatorCaBundle: () => mediatorCaBundle().pem,
    dnsNames: config.serving.dnsNames,
    ipAddresses: config.serving.ipAddresses,
    servingLifetimeSeconds: config.serving.lifetimeSeconds,
    logger,
    clock,
  });
  const ops = await startConfiguredOps(config.ops, metrics, readinessChecks(audit, executorCa, clock));
  return {
    port: server.port,
    opsPort: ops?.port,
    /** Drains, then ends the trail with its close checkpoint; rejects (after all else) if that failed. */
    async stop() {
      await server.stop(config.drainSeconds * 1000);
      // The close checkpoint to the broker too (bounded by one request's timeout).
      await closeTier({ ops, audit, auditConfig: config.audit, logger, telemetry }, async () => {
        await witnessed.stop();
        usedSignatures.close();
      });
    },
  };
}

/**
 * The record of accepted logins, read back before serving: logins accepted
 * before a restart stay used. A per-request executor starts a new record at
 * its request's approval (`loginRecordSince`).
 */
async function openLoginRecord(
  config: ReturnType<typeof loadExecutorConfig>,
  clock: () => Date,
  logger: ReturnType<typeof createLogger>,
) {
  await makeDirectory(dirname(config.loginRecordFile), 0o700);
  return new UsedSignatures({
    path: config.loginRecordFile,
    clock,
    logger,
    ...(config.loginRecordSince === undefined ? {} : { newRecordSince: new Date(config.loginRecordSince) }),
  });
}

/**
 * What the executor trusts and serves with, each re-read when it changes and
 * each change audited: the SSH user CAs and revocation lists, the mediator CA
 * bundle, the executor tier CA keyring.
 */
async function openTrust(config: ExecutorConfig, audit: AuditTrail, clock: () => Date) {
  const { trustedSshCas, revocation } = watchSshTrust(
    config,
    clock,
    auditCaChanges(audit, 'trusted SSH user CA keys'),
  );
  const sshCaCount = trustedSshCas().length;
  const mediatorCaBundle = openPeerCaBundle(
    config.mediatorCaBundleFile,
    clock,
    auditCaChanges(audit, 'mediator CA bundle'),
  );
  const executorCa = await openTierCa(
    config.executorCa,
    'executor',
    clock,
    auditCaChanges(audit, 'executor CA keyring'),
  );
  return { trustedSshCas, sshCaCount, revocation, mediatorCaBundle, executorCa };
}

/** The configured kubeconfig file, or the in-cluster ServiceAccount when none is given. */
function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

/** How sessions authenticate to Kubernetes: a per-session CSR certificate, or impersonation. */
function kubeCredentialsFor(
  config: ExecutorConfig,
  kubeConfig: KubeConfig,
  clock: () => Date,
  logger: Logger,
): KubeCredentials {
  return config.kubeCredentials === 'csr'
    ? createCsrCredentials({ kubeConfig, signer: createKubeCsrSigner(kubeConfig), clock, logger })
    : createImpersonationCredentials(kubeConfig);
}

/** The durable `config.loaded` record: what this executor started with. */
function auditConfigLoaded(
  audit: AuditTrail,
  config: ExecutorConfig,
  loaded: { sshCaCount: number; profileCount: number; loginRecordSince: number; auditFsync: boolean },
): Promise<void> {
  return appendConfigLoaded(
    audit,
    {
      listen: config.listen,
      ssh_cas: loaded.sshCaCount,
      profiles: loaded.profileCount,
      kube_credentials: config.kubeCredentials,
      login_record_since: new Date(loaded.loginRecordSince * 1000).toISOString(),
    },
    loaded.auditFsync,
    { cluster: config.cluster },
  );
}

/** `/readyz`: the audit trail takes records and the executor CA is valid. */
function readinessChecks(audit: AuditTrail, executorCa: () => Promise<TierCa>, clock: () => Date) {
  return {
    audit: () => audit.healthy(),
    'executor-ca': async () => (await executorCa()).notAfter.getTime() > clock().getTime(),
  };
}

const HELP = `Usage: node dist/services/executor/main.js --config FILE

Runs the airlock executor: the mTLS gRPC service that re-verifies every
session and intent and performs only RBAC-authorized Kubernetes calls.
SIGTERM/SIGINT: stop accepting, drain open streams (drainSeconds), then
cancel what is left with EXECUTOR_SHUTDOWN. Then ${CLOSE_CHECKPOINT_HELP}
See docs/executor.md.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain(
    'executor',
    HELP,
    async (configPath) => {
      const executor = await runExecutor(configPath);
      return {
        readyLines: [`ready port=${executor.port}${executor.opsPort ? ` ops=${executor.opsPort}` : ''}`],
        stop: () => executor.stop(),
      };
    },
    STREAM_TIER_RUNTIME_V8_FLAGS,
  );
}
