import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { closeTrail } from '../core/audit/close-trail.js';
import { createKubeCsrSigner } from '../core/kube-csr.js';
import { createLogger } from '../core/logging.js';
import { makeDirectory } from '../core/make-directory.js';
import { Metrics, startOpsServer } from '../core/ops-server.js';
import { loadPolicy } from '../core/policy/index.js';
import { serviceMain } from '../core/service-main.js';
import { startTelemetry, telemetryOptionsFromEnv } from '../core/telemetry.js';
import {
  auditCaChanges,
  auditFsyncFromEnv,
  openPeerCaBundle,
  openTierAuditTrail,
  openTierCa,
  watchSshTrust,
} from '../core/tier-trust.js';
import { loadExecutorConfig } from './config.js';
import { createExecutorService } from './executor-service.js';
import { createCsrCredentials, createImpersonationCredentials } from './kube-credentials.js';
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
  const { trustedSshCas, revocation } = watchSshTrust(
    config,
    clock,
    auditCaChanges(audit, 'trusted SSH user CA keys'),
  );
  const sshCas = trustedSshCas();
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
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();

  // Spans always exist (their ids go into audit records and Impersonate-Extra);
  // they are exported only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. See docs/telemetry.md.
  const telemetry = startTelemetry(telemetryOptionsFromEnv(process.env, 'airlock-executor'));
  const metrics = new Metrics({ processMetrics: true });
  // Read back before serving: logins accepted before a restart stay used.
  await makeDirectory(dirname(config.loginRecordFile), 0o700);
  const usedSignatures = new UsedSignatures({
    path: config.loginRecordFile,
    clock,
    logger,
    ...(config.loginRecordSince === undefined ? {} : { newRecordSince: new Date(config.loginRecordSince) }),
  });
  const service = createExecutorService({
    tracer: telemetry.tracer,
    metrics,
    cluster: config.cluster,
    policy: () => policy,
    trustedSshCas,
    revocation,
    mediatorCas: () => mediatorCaBundle().certPems,
    kube: createKubeGateway(),
    kubeCredentials:
      config.kubeCredentials === 'csr'
        ? createCsrCredentials({ kubeConfig, signer: createKubeCsrSigner(kubeConfig), clock, logger })
        : createImpersonationCredentials(kubeConfig),
    audit,
    logger,
    clock,
    usedSignatures,
    maxSessionsPerUser: config.limits.maxSessionsPerUser,
  });
  await audit.append({
    event: 'config.loaded',
    actor: { kind: 'system' },
    target: { cluster: config.cluster },
    details: {
      listen: config.listen,
      ssh_cas: sshCas.length,
      profiles: Object.keys(policy.profiles).length,
      kube_credentials: config.kubeCredentials,
      login_record_since: new Date(usedSignatures.since * 1000).toISOString(),
      ...(auditFsync ? {} : { audit_fsync: false }),
    },
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
        checks: {
          audit: () => audit.healthy(),
          'executor-ca': async () => (await executorCa()).notAfter.getTime() > clock().getTime(),
        },
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
      usedSignatures.close();
      await telemetry.shutdown();
      if (!end.closed) throw end.error;
    },
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
