/**
 * The broker's composition root: the only place that reads files, flags and
 * the environment, builds the logger, the audit trail, the stores, the OIDC
 * verifier, the TokenReview client and the HTTPS server. Everything below
 * takes its dependencies as arguments; the assembly of each part is in
 * `startup/`, one file per concern.
 */
import { readFile } from 'node:fs/promises';
import { type AuditTrail, closeTrail } from '../core/audit/index.js';
import { AirlockError } from '../core/errors.js';
import { createLogger, type LogEntry, logEntryWriter } from '../core/observability/logging.js';
import { Metrics } from '../core/observability/ops-server.js';
import { loadPolicy } from '../core/policy/index.js';
import { listenHttps } from '../core/service/https-listen.js';
import { CLOSE_CHECKPOINT_HELP, serviceMain } from '../core/service/service-main.js';
import { auditCaChanges } from '../core/service/tier-trust.js';
import { type AccessBroker, createAccessBroker } from './access-broker.js';
import { createBrokerWitness, readTierAuditKeys } from './audit-witness.js';
import { createBrokerMetrics } from './broker-metrics.js';
import { type BrokerConfig, brokerConfigWarnings, checkBrokerConfig, loadBrokerConfig } from './config.js';
import { createBrokerApiHandler } from './http-api.js';
import { createAuthenticator } from './identity.js';
import type { TierLifecycle } from './launcher/tier-lifecycle.js';
import type { RequestStore } from './request-store.js';
import { createRevocationCatchUp } from './revocation-catch-up.js';
import { openBrokerAudit, openBrokerStore } from './startup/audit-and-store.js';
import { ephemeralTiers } from './startup/ephemeral-tiers.js';
import {
  kubeCertificateSigning,
  machineSettings,
  oidcVerifier,
  readOidcCa,
} from './startup/identity-clients.js';
import { startBrokerOps } from './startup/ops.js';
import type { BrokerOverrides } from './startup/overrides.js';
import { type BrokerRevocationLists, openRevocationLists } from './startup/revocation-lists.js';
import { issueBrokerServingTls, type ServingTls } from './startup/serving-tls.js';
import { loadPrivateKey, openSshCa, publishedSshCaKeys, type SshCaKeys } from './startup/ssh-ca.js';
import { startExpirySweep, startTierSweep } from './startup/sweeps.js';
import { createWebhookNotifier, NO_NOTIFIER, type RequestNotifier } from './webhook-notifier.js';

export type { BrokerOverrides } from './startup/overrides.js';
export { loadSshCaKey, openSshCa } from './startup/ssh-ca.js';

/** A running broker. */
export interface RunningBroker {
  readonly url: string;
  /** The ops port (/healthz, /readyz, /metrics) when `ops` is configured. */
  readonly opsPort: number | undefined;
  stop(): Promise<void>;
}

/** Refuses an invalid configuration (CONFIG_INVALID, every problem listed) and logs its warnings. */
function assertValidConfig(config: BrokerConfig, log: (entry: LogEntry) => void): void {
  const problems = checkBrokerConfig(config);
  if (problems.length > 0) {
    throw new AirlockError('CONFIG_INVALID', 'the broker configuration is invalid', {
      detail: problems.join('\n'),
    });
  }
  for (const warning of brokerConfigWarnings(config)) log({ level: 'warn', message: warning });
}

/** The webhook notifier of `config.webhook`, or none. */
async function requestNotifier(
  config: BrokerConfig,
  log: (entry: LogEntry) => void,
): Promise<RequestNotifier> {
  if (!config.webhook) return NO_NOTIFIER;
  return createWebhookNotifier({
    url: config.webhook.url,
    ca: config.webhook.caFile === undefined ? undefined : await readFile(config.webhook.caFile, 'utf8'),
    maxAttempts: config.webhook.maxAttempts,
    initialBackoffMs: config.webhook.initialBackoffMs,
    log,
  });
}

/** Everything the broker serves with, built and opened, before it listens. */
interface BrokerParts {
  readonly handler: ReturnType<typeof createBrokerApiHandler>;
  readonly tls: ServingTls;
  readonly metrics: Metrics;
  readonly audit: AuditTrail;
  readonly sshCa: SshCaKeys;
  readonly store: RequestStore;
  readonly retentionDays: number;
  readonly broker: AccessBroker;
  readonly revocation: BrokerRevocationLists;
  readonly notifier: RequestNotifier;
  readonly tiers: TierLifecycle | undefined;
}

/**
 * Reads the keys, policy and certificates, opens the audit trail, store and
 * revocation lists, and builds the domain service and its HTTPS handler, in
 * that order (a bad key or file stops start-up before anything opens);
 * records `config.loaded`.
 */
async function assembleBroker(
  config: BrokerConfig,
  overrides: BrokerOverrides,
  clock: () => Date,
  log: (entry: LogEntry) => void,
): Promise<BrokerParts> {
  // Ephemeral mode: the host CA key, read before anything opens. An exposed or unreadable one stops
  // start-up (CONFIG_INVALID), so no per-request mediator is ever launched uncertified.
  const hostCa =
    config.launcher?.mode === 'ephemeral'
      ? await loadPrivateKey(config.launcher.hostCa.keyFile, 'the host CA key')
      : undefined;
  const policy = loadPolicy(await readFile(config.policyFile, 'utf8'));
  const tls = await issueBrokerServingTls(config, clock());
  const oidcCa = await readOidcCa(config);
  const machines = machineSettings(config, overrides);
  const kubeCertificates = kubeCertificateSigning(config, overrides);
  const metrics = new Metrics({ processMetrics: true });
  const brokerMetrics = createBrokerMetrics(metrics);
  const audit = await openBrokerAudit(config, clock, brokerMetrics);
  const sshCa = await openSshCa(config, clock, auditCaChanges(audit, 'SSH user CA keyring'));
  const { store, storeConfig } = await openBrokerStore(config, clock, log);
  const revocation = await openRevocationLists(config, overrides, { clock, log, metrics });
  const notifier = await requestNotifier(config, log);
  const ephemeral = ephemeralTiers(config, overrides, hostCa, { store, audit, policy, clock, log });
  const tiers = ephemeral?.tiers;
  const broker = createAccessBroker({
    policy,
    store,
    audit,
    notifier,
    ...(tiers ? { tiers } : {}),
    denyList: revocation.denyList,
    caKey: () => sshCa().active,
    adminGroups: config.adminGroups,
    clock,
    ...(kubeCertificates ? { kubeCertificates } : {}),
  });
  const handler = createBrokerApiHandler({
    broker,
    authenticator: createAuthenticator(oidcVerifier(config, oidcCa, clock), config.oidc.issuer, machines),
    info: { issuer: config.oidc.issuer, clientId: config.oidc.clientId },
    sshCaKeys: () => publishedSshCaKeys(sshCa),
    ...(ephemeral ? { hostCaKeys: [ephemeral.hostCaPublicKey] } : {}),
    log,
    observer: brokerMetrics,
    audit,
    ...(config.audit.witnessKeyFiles
      ? { witness: createBrokerWitness(audit, await readTierAuditKeys(config.audit.witnessKeyFiles)) }
      : {}),
  });
  await audit.append({
    event: 'config.loaded',
    actor: { kind: 'system' },
    target: {},
    details: {
      issuer: config.oidc.issuer,
      profiles: Object.keys(policy.profiles).length,
      machines: machines !== undefined,
      kube_certificates: kubeCertificates?.cluster ?? false,
      serving_not_after: tls.notAfter.toISOString(),
    },
  });
  const retentionDays = storeConfig.retentionDays;
  return { handler, tls, metrics, audit, sshCa, store, retentionDays, broker, revocation, notifier, tiers };
}

/** Starts the broker from a validated configuration. */
export async function startBroker(
  config: BrokerConfig,
  overrides: BrokerOverrides = {},
): Promise<RunningBroker> {
  const clock = overrides.clock ?? (() => new Date());
  const log = overrides.log ?? logEntryWriter(createLogger({ tier: 'broker', level: config.logLevel }));
  assertValidConfig(config, log);
  const { handler, tls, metrics, audit, sshCa, store, retentionDays, broker, revocation, notifier, tiers } =
    await assembleBroker(config, overrides, clock, log);
  const publisher = revocation.publisher;
  const server = await listenHttps(
    handler,
    { key: tls.key, cert: tls.cert },
    config.listen.host,
    config.listen.port,
  );
  publisher?.start();
  const revocationCatchUp = createRevocationCatchUp({
    store,
    lists: revocation.local,
    onAdded: () => void publisher?.request(),
  });
  const sweep = startExpirySweep({
    store,
    broker,
    revocationCatchUp,
    retentionDays,
    intervalSeconds: config.expirySweepSeconds,
    clock,
    log,
  });
  // Ephemeral mode: leftovers of requests no longer approved-and-live go at start and every sweepSeconds.
  const tierSweep = tiers ? startTierSweep(tiers, store, config, log) : undefined;
  const ops = await startBrokerOps(config, metrics, { sshCa, audit, store, publisher });
  return {
    url: server.url,
    opsPort: ops?.port,
    async stop() {
      clearInterval(sweep);
      if (tierSweep) clearInterval(tierSweep);
      await server.stop();
      await publisher?.stop();
      await notifier.close();
      await ops?.close();
      await store.close();
      const end = await closeTrail(audit, config.audit.offPodAck !== undefined);
      if (!end.closed) throw end.error;
      log({ level: 'info', message: end.message });
    },
  };
}

const HELP = `Usage: node dist/services/broker/main.js --config FILE

Runs the airlock access broker: the HTTPS JSON API that authenticates people
(OIDC ID tokens) and runbooks (Kubernetes ServiceAccount tokens), records
access requests and approvals, and signs session-scoped OpenSSH user
certificates. SIGTERM/SIGINT: stop serving, then then ${CLOSE_CHECKPOINT_HELP}
See docs/broker.md.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain('broker', HELP, async (configPath) => {
    const broker = await startBroker(loadBrokerConfig(configPath));
    const ops = broker.opsPort === undefined ? '' : ` ops=${broker.opsPort}`;
    return { readyLines: [`ready url=${broker.url}${ops}`], stop: () => broker.stop() };
  });
}
