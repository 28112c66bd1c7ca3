import { connect } from 'node:net';
import type { AuditTrail } from '../core/audit/types.js';
import { createLogger, type LoggerOptions } from '../core/observability/logging.js';
import { withBrokerWitness } from '../core/service/broker-witness.js';
import { STREAM_TIER_RUNTIME_V8_FLAGS } from '../core/service/node-flags.js';
import { CLOSE_CHECKPOINT_HELP, serviceMain, sshReadyLines } from '../core/service/service-main.js';
import {
  appendConfigLoaded,
  closeTier,
  openPolicyAndAudit,
  splitListen,
  startConfiguredOps,
  startTierTelemetry,
} from '../core/service/tier-start.js';
import { auditCaChanges, openPeerCaBundle, openTierCa, watchSshTrust } from '../core/service/tier-trust.js';
import { loadHostCertificate, loadOrCreateHostKey } from '../core/ssh-cert/host-key.js';
import type { TierCa } from '../core/x509/index.js';
import { loadMediatorConfig, type MediatorConfig } from './config.js';
import { createSshFrontend, type MediatorLimits } from './ssh-frontend.js';
import { ssh2Crypto } from './ssh2-crypto.js';

/**
 * The mediator's composition root. It reads no Kubernetes configuration at
 * all: its only way to the cluster is the executor, over mTLS, with a
 * session grant per SSH connection. `logDestination` (default stdout): tests
 * read the operator log there.
 */
export async function runMediator(
  configPath: string,
  options: { logDestination?: LoggerOptions['destination'] } = {},
) {
  const config = loadMediatorConfig(configPath);
  const logger = createLogger({
    tier: 'mediator',
    level: config.logLevel,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const clock = () => new Date();
  const hostKey = loadMediatorHostKey(config, clock());
  const { policy, auditFsync, audit } = await openPolicyAndAudit(config, 'mediator', clock, logger);
  const witnessed = withBrokerWitness(
    audit,
    config.audit.brokerWitness,
    config.audit.witnessSeconds * 1000,
    (msg, err) => logger.warn({ err }, msg),
  );
  const { trustedSshCas, revocation, mediatorCa, executorCaBundle } = await openTrust(config, audit, clock);
  const sshCas = trustedSshCas();
  const { telemetry, metrics } = startTierTelemetry('airlock-mediator');
  const frontend = createSshFrontend({
    tracer: telemetry.tracer,
    metrics,
    ...(config.recordings ? { recordings: config.recordings } : {}),
    hostKey,
    trustedSshCas,
    revocation,
    policy: () => policy,
    ...(config.requestId === undefined ? {} : { requestId: config.requestId }),
    mediatorCa,
    executor: {
      address: config.executor.address,
      caPem: () => executorCaBundle().pem,
      ...(config.executor.serverName ? { serverName: config.executor.serverName } : {}),
    },
    audit: witnessed.audit,
    witnessIntervalMs: config.audit.witnessSeconds * 1000,
    logger,
    clock,
    limits: limitsOf(config.limits),
  });
  await auditConfigLoaded(audit, config, hostKey, sshCas.length, auditFsync);
  const listen = splitListen(config.listen);
  const port = await frontend.listen(listen.port, listen.host);
  // ssh2Crypto: "native", or "javascript" when ssh2 fell back to its slower JavaScript crypto.
  logger.info({ port, host_key: hostKey.fingerprint, ssh2Crypto: ssh2Crypto() }, 'mediator listening (SSH)');
  const ops = await startConfiguredOps(
    config.ops,
    metrics,
    readinessChecks(config, audit, mediatorCa, clock),
  );
  return {
    port,
    opsPort: ops?.port,
    hostKey,
    /** Drains, then ends the trail with its close checkpoint; rejects (after all else) if that failed. */
    async stop() {
      await frontend.stop(config.drainSeconds * 1000);
      // The close checkpoint to the broker too (bounded by one request's timeout).
      await closeTier({ ops, audit, auditConfig: config.audit, logger, telemetry }, () => witnessed.stop());
    },
  };
}

/** The SSH host key, with its host certificate when the config names one (per-request mediators). */
function loadMediatorHostKey(config: MediatorConfig, now: Date) {
  const plainHostKey = loadOrCreateHostKey(config.hostKeyFile);
  return config.hostCertificateFile
    ? loadHostCertificate(config.hostCertificateFile, plainHostKey, now)
    : plainHostKey;
}

/** The trail's first record: what this mediator started with. */
async function auditConfigLoaded(
  audit: AuditTrail,
  config: MediatorConfig,
  hostKey: ReturnType<typeof loadMediatorHostKey>,
  sshCas: number,
  auditFsync: boolean,
) {
  await appendConfigLoaded(
    audit,
    {
      listen: config.listen,
      host_key: hostKey.fingerprint,
      host_certificate: hostKey.certificate !== undefined,
      ssh_cas: sshCas,
      ...(config.requestId === undefined ? {} : { request_id: config.requestId }),
    },
    auditFsync,
  );
}

/**
 * What the mediator trusts and signs with, each re-read when it changes and
 * each change audited: the SSH user CAs and revocation lists, the mediator
 * tier CA keyring, the executor CA bundle.
 */
async function openTrust(config: MediatorConfig, audit: AuditTrail, clock: () => Date) {
  const { trustedSshCas, revocation } = watchSshTrust(
    config,
    clock,
    auditCaChanges(audit, 'trusted SSH user CA keys'),
  );
  const mediatorCa = await openTierCa(
    config.mediatorCa,
    'mediator',
    clock,
    auditCaChanges(audit, 'mediator CA keyring'),
  );
  const executorCaBundle = openPeerCaBundle(
    config.executor.caBundleFile,
    clock,
    auditCaChanges(audit, 'executor CA bundle'),
  );
  return { trustedSshCas, revocation, mediatorCa, executorCaBundle };
}

/** `/readyz`: the audit trail takes records, the mediator CA is valid, the executor answers. */
function readinessChecks(
  config: MediatorConfig,
  audit: AuditTrail,
  mediatorCa: () => Promise<TierCa>,
  clock: () => Date,
) {
  return {
    audit: () => audit.healthy(),
    'mediator-ca': async () => (await mediatorCa()).notAfter.getTime() > clock().getTime(),
    executor: () => reachable(config.executor.address),
  };
}

/** The config's limits (seconds) as the front door takes them (milliseconds). */
function limitsOf(limits: MediatorConfig['limits']): MediatorLimits {
  return {
    preAuthTimeoutMs: limits.preAuthTimeoutSeconds * 1000,
    maxUnauthenticatedPerSource: limits.maxUnauthenticatedPerSource,
    maxSessionsPerPrincipal: limits.maxSessionsPerPrincipal,
    idleTimeoutMs: limits.idleTimeoutSeconds * 1000,
    expiryWarningMs: limits.expiryWarningSeconds * 1000,
  };
}

/** True when a TCP connection to host:port succeeds within a second. */
function reachable(address: string): Promise<boolean> {
  const { host, port } = splitListen(address);
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const HELP = `Usage: node dist/services/mediator/main.js --config FILE

Runs the airlock mediator: the SSH front door. Accepts OpenSSH user
certificates only, offers the airlock command language (ssh gw help), and
forwards intents to the executor. Prints the host key fingerprint at start:
pin it in known_hosts as "[host]:port ssh-ed25519 AAAA...", or set
hostCertificateFile (airlock ca sign-host) so clients trust the host CA with
"@cert-authority <pattern> <host CA key>" (airlock cert --host-ca).
SIGTERM/SIGINT: stop accepting, let sessions finish (drainSeconds), then
close them with a message. Then ${CLOSE_CHECKPOINT_HELP}`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain(
    'mediator',
    HELP,
    async (configPath) => {
      const mediator = await runMediator(configPath);
      return { readyLines: sshReadyLines(mediator), stop: () => mediator.stop() };
    },
    STREAM_TIER_RUNTIME_V8_FLAGS,
  );
}
