/**
 * The broker's composition root: the only place that reads files, flags and
 * the environment, builds the logger, the audit trail, the stores, the OIDC
 * verifier, the TokenReview client and the HTTPS server. Everything below
 * takes its dependencies as arguments.
 */
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type AuditTrail, closeTrail, createFileAuditTrail } from '../core/audit/index.js';
import { watchSshCaKeyring } from '../core/ca-keyring/watch.js';
import { AirlockError } from '../core/errors.js';
import { createLogger, type LogEntry, logEntryWriter } from '../core/logging.js';
import { makeDirectory } from '../core/make-directory.js';
import { Metrics, startOpsServer } from '../core/ops-server.js';
import { loadPolicy } from '../core/policy/index.js';
import { assertPrivateKeyFile } from '../core/private-key-file.js';
import { serviceMain } from '../core/service-main.js';
import {
  formatPublicKeyLine,
  parseOpenSshPrivateKey,
  type SshPrivateKey,
  sha256Fingerprint,
} from '../core/ssh-cert/index.js';
import { auditCaChanges, offPodAckStorage } from '../core/tier-trust.js';
import type { FileChangeListener } from '../core/watched-file.js';
import { issueServingCertificate, loadTierCa } from '../core/x509/index.js';
import { createAccessBroker } from './access-broker.js';
import { createBrokerMetrics, withAuditMetrics } from './broker-metrics.js';
import {
  type BrokerConfig,
  brokerConfigWarnings,
  checkBrokerConfig,
  loadBrokerConfig,
  usernameVerifiedClaim,
} from './config.js';
import { createFileDenyList, createRevocationPublisher, type DenyListWriter } from './deny-list.js';
import { createBrokerApiHandler, listenHttps } from './http-api.js';
import {
  createAuthenticator,
  createKubernetesTokenReviewer,
  createOidcVerifier,
  type MachineSettings,
  type TokenReviewer,
} from './identity.js';
import { createFileKrl } from './krl-file.js';
import { createKubeCsrSigner, type KubeCsrSigner } from './kube-csr-signer.js';
import { createKubeTierLauncher } from './launcher/kube-tier-launcher.js';
import type { TierLauncher } from './launcher/tier-launcher.js';
import { createTierLifecycle, type TierLifecycle } from './launcher/tier-lifecycle.js';
import { createRevocationCatchUp } from './revocation-catch-up.js';
import {
  type ConfigMapApi,
  createRevocationConfigMapPublisher,
  type RevocationConfigMapPublisher,
  revocationPublishMetrics,
} from './revocation-config-map.js';
import type { LocalRevocationLists } from './revocation-merge.js';
import { openRequestStore } from './store/open-store.js';
import { effectiveStoreConfig } from './store/store-config.js';
import { createWebhookNotifier, NO_NOTIFIER, type RequestNotifier } from './webhook-notifier.js';

/** Seams for tests; production passes none. */
export interface BrokerOverrides {
  readonly clock?: () => Date;
  /** Replaces the TokenReview client built from `config.kubernetes.kubeconfig`. */
  readonly tokenReviewer?: TokenReviewer;
  /** Replaces the CSR signer built from `config.kubeCertificates.kubeconfig`. */
  readonly kubeCsrSigner?: KubeCsrSigner;
  /** Replaces the ConfigMap client built from `config.revocationConfigMap.kubeconfig`. */
  readonly configMapApi?: ConfigMapApi;
  /** Operator log; default the tier's pino logger on stdout (services/core/logging.ts). */
  readonly log?: (entry: LogEntry) => void;
  /** Replaces the tier launcher built from `config.launcher` (ephemeral mode). */
  readonly tierLauncher?: TierLauncher;
}

/** A running broker. */
export interface RunningBroker {
  readonly url: string;
  /** The ops port (/healthz, /readyz, /metrics) when `ops` is configured. */
  readonly opsPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Readiness: the SSH CA key file still holds the key this broker signs with
 * (present, 0600 or narrower, same public key). A key removed, exposed or
 * replaced on disk means the operator has to act (restart or fix the mode).
 */
async function caKeyStillLoaded(path: string, loaded: { publicKey: { blob: Uint8Array } }): Promise<boolean> {
  const onDisk = await loadSshCaKey(path);
  return Buffer.from(onDisk.publicKey.blob).equals(Buffer.from(loaded.publicKey.blob));
}

/**
 * Reads the SSH user CA key, refusing a file that is not private to this
 * process (like ssh's "UNPROTECTED PRIVATE KEY FILE" check; the rules,
 * including a Secret volume under fsGroup: services/core/private-key-file.ts).
 */
export async function loadSshCaKey(path: string) {
  return loadPrivateKey(path, 'the SSH CA key');
}

/** Reads an OpenSSH private key file, refused unless private to this process (CONFIG_INVALID). */
async function loadPrivateKey(path: string, what: string): Promise<SshPrivateKey> {
  assertPrivateKeyFile(path, what);
  return parseOpenSshPrivateKey(await readFile(path, 'utf8'));
}

/**
 * The SSH user CA as the broker uses it: the signing key and every key it
 * publishes. From a keyring directory (`sshCaDir`), re-read when
 * `keyring.json` changes, so `airlock ca rotate ssh-user switch` takes
 * effect without a restart (an unreadable keyring fails closed:
 * CONFIG_INVALID, nothing is signed); or one fixed key (`sshCaKeyFile`).
 * Either is read once here, so a bad one stops start-up.
 */
export async function openSshCa(
  config: Pick<BrokerConfig, 'sshCaDir' | 'sshCaKeyFile'>,
  clock: () => Date,
  onChange?: FileChangeListener,
): Promise<() => { active: SshPrivateKey; all: readonly SshPrivateKey[] }> {
  if (config.sshCaDir !== undefined) {
    const keyring = watchSshCaKeyring(config.sshCaDir, clock, onChange);
    keyring();
    return () => {
      const { active, keys } = keyring();
      return { active, all: keys.map(({ key }) => key) };
    };
  }
  if (config.sshCaKeyFile === undefined) {
    throw new AirlockError('CONFIG_INVALID', 'the broker needs sshCaDir or sshCaKeyFile');
  }
  const key = await loadSshCaKey(config.sshCaKeyFile);
  return () => ({ active: key, all: [key] });
}

/** The broker's revocation files as they are now; no deny list yet is an empty one. */
async function readLocalRevocations(
  config: Pick<BrokerConfig, 'denyListFile' | 'revocationKrlFile'>,
): Promise<LocalRevocationLists> {
  const denyList = await readFile(config.denyListFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '{"serials":[],"keyIds":[]}';
    throw error;
  });
  if (config.revocationKrlFile === undefined) return { denyList };
  return { denyList, krl: await readFile(config.revocationKrlFile) };
}

/**
 * Ephemeral mode's hooks from `config.launcher`, and the host CA's public
 * key line (published with every user certificate); undefined in standing
 * mode.
 */
function ephemeralTiers(
  config: BrokerConfig,
  overrides: BrokerOverrides,
  hostCa: SshPrivateKey | undefined,
  deps: Omit<Parameters<typeof createTierLifecycle>[0], 'launcher'>,
): { tiers: TierLifecycle; hostCaPublicKey: string } | undefined {
  const settings = config.launcher;
  if (settings?.mode !== 'ephemeral' || hostCa === undefined) return undefined;
  const hostCaPublicKey = formatPublicKeyLine(hostCa.publicKey, 'airlock-host-ca');
  let launcher = overrides.tierLauncher;
  if (!launcher) {
    const kubeConfig = new KubeConfig();
    if (settings.kubeconfig) kubeConfig.loadFromFile(settings.kubeconfig);
    else kubeConfig.loadFromCluster();
    launcher = createKubeTierLauncher({
      kubeConfig,
      namespace: settings.namespace,
      cluster: settings.cluster,
      images: settings.images,
      ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
      hostCa,
    });
  }
  return { tiers: createTierLifecycle({ ...deps, launcher }), hostCaPublicKey };
}

/** Runs the tier sweep now and every `launcher.sweepSeconds` (one broker replica at a time). */
function startTierSweep(
  tiers: TierLifecycle,
  store: { exclusive(name: string, work: () => Promise<void>): Promise<boolean> },
  config: BrokerConfig,
  log: (entry: LogEntry) => void,
): NodeJS.Timeout {
  const run = () =>
    store
      .exclusive('tier-sweep', async () => {
        const removed = await tiers.sweep();
        if (removed.length > 0) log({ level: 'info', message: `deleted the tiers of ${removed.join(', ')}` });
      })
      .catch((error: unknown) => log({ level: 'error', message: 'tier sweep failed', err: error }));
  void run();
  const seconds = config.launcher?.mode === 'ephemeral' ? config.launcher.sweepSeconds : 30;
  const timer = setInterval(run, seconds * 1000);
  timer.unref();
  return timer;
}

/** Starts the broker from a validated configuration. */
export async function startBroker(
  config: BrokerConfig,
  overrides: BrokerOverrides = {},
): Promise<RunningBroker> {
  const clock = overrides.clock ?? (() => new Date());
  const log = overrides.log ?? logEntryWriter(createLogger({ tier: 'broker', level: config.logLevel }));
  const problems = checkBrokerConfig(config);
  if (problems.length > 0) {
    throw new AirlockError('CONFIG_INVALID', 'the broker configuration is invalid', {
      detail: problems.join('\n'),
    });
  }
  for (const warning of brokerConfigWarnings(config)) log({ level: 'warn', message: warning });
  // Ephemeral mode: the host CA key, read before anything opens. An exposed or unreadable one stops
  // start-up (CONFIG_INVALID), so no per-request mediator is ever launched uncertified.
  const hostCa =
    config.launcher?.mode === 'ephemeral'
      ? await loadPrivateKey(config.launcher.hostCa.keyFile, 'the host CA key')
      : undefined;

  const policy = loadPolicy(await readFile(config.policyFile, 'utf8'));
  const tierCa = await loadTierCa(
    await readFile(config.tls.tierCaCertFile, 'utf8'),
    await readFile(config.tls.tierCaKeyFile, 'utf8'),
  );
  if (tierCa.tier !== 'broker') {
    throw new AirlockError(
      'CONFIG_INVALID',
      `tls.tierCaCertFile is the ${tierCa.tier} tier CA, not the broker's`,
    );
  }
  const serving = await issueServingCertificate(tierCa, {
    dnsNames: config.tls.dnsNames,
    ipAddresses: config.tls.ipAddresses,
    lifetimeSeconds: config.tls.lifetimeSeconds,
    now: clock(),
  });
  const oidcCa = config.oidc.caFile === undefined ? undefined : await readFile(config.oidc.caFile, 'utf8');

  let machines: MachineSettings | undefined;
  if (config.kubernetes) {
    let reviewer = overrides.tokenReviewer;
    if (!reviewer) {
      const kubeConfig = new KubeConfig();
      if (config.kubernetes.kubeconfig) kubeConfig.loadFromFile(config.kubernetes.kubeconfig);
      else kubeConfig.loadFromCluster();
      reviewer = createKubernetesTokenReviewer(kubeConfig);
    }
    machines = {
      reviewer,
      audiences: config.kubernetes.audiences,
      machineGroups: config.kubernetes.machineGroups,
    };
  }

  let kubeCertificates: { signer: KubeCsrSigner; cluster: string } | undefined;
  if (config.kubeCertificates) {
    let signer = overrides.kubeCsrSigner;
    if (!signer) {
      const kubeConfig = new KubeConfig();
      if (config.kubeCertificates.kubeconfig) kubeConfig.loadFromFile(config.kubeCertificates.kubeconfig);
      else kubeConfig.loadFromCluster();
      signer = createKubeCsrSigner(kubeConfig, {
        timeoutMs: (config.kubeCertificates.signTimeoutSeconds ?? 30) * 1000,
      });
    }
    kubeCertificates = { signer, cluster: config.kubeCertificates.cluster };
  }

  const metrics = new Metrics({ processMetrics: true });
  const brokerMetrics = createBrokerMetrics(metrics);
  const ackStorage = offPodAckStorage(config.audit.offPodAck);
  const fileAudit: AuditTrail = await createFileAuditTrail({
    path: config.audit.path,
    tier: 'broker',
    signingKey: createPrivateKey(await readFile(config.audit.signingKeyFile)),
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointSeconds * 1000,
    clock,
    ...(ackStorage ? { storage: ackStorage } : {}),
  });
  const audit = withAuditMetrics(fileAudit, (event) => brokerMetrics.observeAudit(event));
  const sshCa = await openSshCa(config, clock, auditCaChanges(audit, 'SSH user CA keyring'));
  const storeConfig = effectiveStoreConfig(config);
  const opened = await openRequestStore(storeConfig, clock(), (message, err) =>
    log({ level: 'error', message, err }),
  );
  const store = opened.store;
  log({
    level: 'info',
    message: `request store ${opened.description} at schema ${opened.schemaVersion}`,
    ...(opened.migratedFrom === opened.schemaVersion ? {} : { migrated_from: opened.migratedFrom }),
    ...(opened.imported === 0 ? {} : { imported_from_json: opened.imported }),
  });
  // Every revocation lands in the JSON deny list and, when configured, the KRL.
  // Their directories may not exist yet (a fresh volume); 0755: other tiers on one host read them.
  for (const file of [config.denyListFile, config.revocationKrlFile]) {
    if (file !== undefined) await makeDirectory(dirname(file), 0o755);
  }
  const revocationWriters: DenyListWriter[] = [createFileDenyList(config.denyListFile)];
  if (config.revocationKrlFile !== undefined) {
    const krl = createFileKrl(config.revocationKrlFile, clock);
    await krl.ensureExists(); // the tiers watch it from the start; a missing file fails them closed
    revocationWriters.push(krl);
  }
  // The ConfigMap copy for the other pods; the files stay what `revoke` waits for.
  let revocationConfigMap: RevocationConfigMapPublisher | undefined;
  if (config.revocationConfigMap) {
    let api = overrides.configMapApi;
    if (!api) {
      const kubeConfig = new KubeConfig();
      if (config.revocationConfigMap.kubeconfig)
        kubeConfig.loadFromFile(config.revocationConfigMap.kubeconfig);
      else kubeConfig.loadFromCluster();
      api = kubeConfig.makeApiClient(CoreV1Api);
    }
    revocationConfigMap = createRevocationConfigMapPublisher({
      api,
      namespace: config.revocationConfigMap.namespace,
      name: config.revocationConfigMap.name,
      readLocal: () => readLocalRevocations(config),
      clock,
      log,
      observe: revocationPublishMetrics(metrics),
      resyncMs: config.revocationConfigMap.resyncSeconds * 1000,
    });
  }
  const localRevocations = createRevocationPublisher(revocationWriters);
  const publisher = revocationConfigMap;
  const denyList: DenyListWriter = publisher
    ? {
        // Durable locally first (the answer depends on it), then published in the background.
        async revoke(entry) {
          await localRevocations.revoke(entry);
          void publisher.request();
        },
      }
    : localRevocations;
  const notifier: RequestNotifier = config.webhook
    ? createWebhookNotifier({
        url: config.webhook.url,
        ca: config.webhook.caFile === undefined ? undefined : await readFile(config.webhook.caFile, 'utf8'),
        maxAttempts: config.webhook.maxAttempts,
        initialBackoffMs: config.webhook.initialBackoffMs,
        log,
      })
    : NO_NOTIFIER;
  const ephemeral = ephemeralTiers(config, overrides, hostCa, { store, audit, policy, clock, log });
  const tiers = ephemeral?.tiers;
  const broker = createAccessBroker({
    policy,
    store,
    audit,
    notifier,
    ...(tiers ? { tiers } : {}),
    denyList,
    caKey: () => sshCa().active,
    adminGroups: config.adminGroups,
    clock,
    ...(kubeCertificates ? { kubeCertificates } : {}),
  });
  const oidc = createOidcVerifier(
    {
      issuer: config.oidc.issuer,
      audience: config.oidc.clientId,
      usernameClaim: config.oidc.usernameClaim,
      usernameVerifiedClaim: usernameVerifiedClaim(config.oidc),
      groupsClaim: config.oidc.groupsClaim,
      groupMapping: config.oidc.groupMapping,
      passThroughGroups: config.oidc.passThroughGroups,
      caPem: oidcCa,
      clockToleranceSeconds: config.oidc.clockToleranceSeconds,
    },
    clock,
  );
  const handler = createBrokerApiHandler({
    broker,
    authenticator: createAuthenticator(oidc, config.oidc.issuer, machines),
    info: { issuer: config.oidc.issuer, clientId: config.oidc.clientId },
    sshCaKeys: () => {
      const { active, all } = sshCa();
      return all.map((key) => ({
        publicKey: formatPublicKeyLine(key.publicKey, key.comment),
        fingerprint: sha256Fingerprint(key.publicKey.blob),
        active: key === active,
      }));
    },
    ...(ephemeral ? { hostCaKeys: [ephemeral.hostCaPublicKey] } : {}),
    log,
    observer: brokerMetrics,
    audit,
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
      serving_not_after: serving.notAfter.toISOString(),
    },
  });
  const server = await listenHttps(
    handler,
    { key: serving.privateKeyPem ?? '', cert: `${serving.certPem}${tierCa.certPem}` },
    config.listen.host,
    config.listen.port,
  );
  publisher?.start();
  const revocationCatchUp = createRevocationCatchUp({
    store,
    lists: localRevocations,
    onAdded: () => void publisher?.request(),
  });
  // One replica at a time (PostgreSQL advisory lock, docs/broker.md "Request store"); lazy expiry on
  // every read covers the others. Retention: the audit trail keeps what is pruned here.
  const retentionMs = storeConfig.retentionDays * 86_400_000;
  const sweep = setInterval(() => {
    store
      .exclusive('expiry-sweep', async () => {
        await broker.expirePending();
        const now = clock();
        const pruned = await store.prune(new Date(now.getTime() - retentionMs), now);
        if (pruned > 0) log({ level: 'info', message: `pruned ${pruned} requests past retention` });
        await revocationCatchUp.run();
      })
      .catch((error: unknown) => log({ level: 'error', message: 'expiry sweep failed', err: error }));
  }, config.expirySweepSeconds * 1000);
  sweep.unref();
  // Ephemeral mode: leftovers of requests no longer approved-and-live go at start and every sweepSeconds.
  const tierSweep = tiers ? startTierSweep(tiers, store, config, log) : undefined;
  const ops = config.ops
    ? await startOpsServer({
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
      })
    : undefined;
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
certificates. SIGTERM/SIGINT: stop serving, then then the audit trail ends with its signed close checkpoint (with
audit.offPodAck: acknowledged by the audit store); if it cannot, the tier
still exits, with status 1 and "AUDIT_UNAVAILABLE: the close checkpoint was
not shipped off the pod".
See docs/broker.md.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain('broker', HELP, async (configPath) => {
    const broker = await startBroker(loadBrokerConfig(configPath));
    const ops = broker.opsPort === undefined ? '' : ` ops=${broker.opsPort}`;
    return { readyLines: [`ready url=${broker.url}${ops}`], stop: () => broker.stop() };
  });
}
