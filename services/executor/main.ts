import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { closeTrail } from '../core/audit/close-trail.js';
import type { AuditTrail } from '../core/audit/types.js';
import { makeDirectory } from '../core/files/make-directory.js';
import { createKubeCsrSigner } from '../core/kube/kube-csr.js';
import { createLogger, type Logger } from '../core/observability/logging.js';
import { Metrics, startOpsServer } from '../core/observability/ops-server.js';
import { startTelemetry, telemetryOptionsFromEnv } from '../core/observability/telemetry.js';
import { loadPolicy } from '../core/policy/index.js';
import { withBrokerWitness } from '../core/service/broker-witness.js';
import { serviceMain } from '../core/service/service-main.js';
import {
  auditCaChanges,
  auditFsyncFromEnv,
  openPeerCaBundle,
  openTierAuditTrail,
  openTierCa,
  watchSshTrust,
} from '../core/service/tier-trust.js';
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
  const policy = loadPolicy(readFileSync(config.policyFile, 'utf8'));
  const auditFsync = auditFsyncFromEnv(process.env, (message) => logger.warn(message));
  const audit = await openTierAuditTrail(config.audit, 'executor', clock, auditFsync);
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

  // Spans always exist (their ids go into audit records and Impersonate-Extra);
  // they are exported only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. See docs/telemetry.md.
  const telemetry = startTelemetry(telemetryOptionsFromEnv(process.env, 'airlock-executor'));
  const metrics = new Metrics({ processMetrics: true });
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
  const ops = config.ops
    ? await startOpsServer({
        listen: config.ops.listen,
        metrics,
        checks: readinessChecks(audit, executorCa, clock),
      })
    : undefined;
  return {
    port: server.port,
    opsPort: ops?.port,
    /** Drains, then ends the trail with its close checkpoint; rejects (after all else) if that failed. */
    async stop() {
      await server.stop(config.drainSeconds * 1000);
      await ops?.close();
      const end = await closeTrail(audit, config.audit.offPodAck !== undefined);
      if (end.closed) logger.info({ seq: end.seq }, end.message);
      // The close checkpoint to the broker too (bounded by one request's timeout).
      await witnessed.stop();
      usedSignatures.close();
      await telemetry.shutdown();
      if (!end.closed) throw end.error;
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
  return audit.append({
    event: 'config.loaded',
    actor: { kind: 'system' },
    target: { cluster: config.cluster },
    details: {
      listen: config.listen,
      ssh_cas: loaded.sshCaCount,
      profiles: loaded.profileCount,
      kube_credentials: config.kubeCredentials,
      login_record_since: new Date(loaded.loginRecordSince * 1000).toISOString(),
      ...(loaded.auditFsync ? {} : { audit_fsync: false }),
    },
  });
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
cancel what is left with EXECUTOR_SHUTDOWN. Then the audit trail ends with its signed close checkpoint (with
audit.offPodAck: acknowledged by the audit store); if it cannot, the tier
still exits, with status 1 and "AUDIT_UNAVAILABLE: the close checkpoint was
not shipped off the pod".
See docs/executor.md.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain('executor', HELP, async (configPath) => {
    const executor = await runExecutor(configPath);
    return {
      readyLines: [`ready port=${executor.port}${executor.opsPort ? ` ops=${executor.opsPort}` : ''}`],
      stop: () => executor.stop(),
    };
  });
}
