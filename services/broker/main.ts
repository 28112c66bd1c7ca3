/**
 * The broker's composition root: the only place that reads files, flags and
 * the environment, builds the logger, the audit trail, the stores, the OIDC
 * verifier, the TokenReview client and the HTTPS server. Everything below
 * takes its dependencies as arguments.
 */
import { createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { type AuditTrail, createFileAuditTrail } from '../core/audit/index.js';
import { watchSshCaKeyring } from '../core/ca-keyring/watch.js';
import { AirlockError } from '../core/errors.js';
import { loadPolicy } from '../core/policy/index.js';
import { serviceMain } from '../core/service-main.js';
import {
  formatPublicKeyLine,
  parseOpenSshPrivateKey,
  type SshPrivateKey,
  sha256Fingerprint,
} from '../core/ssh-cert/index.js';
import { issueServingCertificate, loadTierCa } from '../core/x509/index.js';
import { createAccessBroker } from './access-broker.js';
import { type BrokerConfig, loadBrokerConfig } from './config.js';
import { createFileDenyList } from './deny-list.js';
import { createBrokerApiHandler, listenHttps } from './http-api.js';
import {
  createAuthenticator,
  createKubernetesTokenReviewer,
  createOidcVerifier,
  type MachineSettings,
  type TokenReviewer,
} from './identity.js';
import { createKubeCsrSigner, type KubeCsrSigner } from './kube-csr-signer.js';
import { createFileRequestStore } from './request-store.js';

/** Seams for tests; production passes none. */
export interface BrokerOverrides {
  readonly clock?: () => Date;
  /** Replaces the TokenReview client built from `config.kubernetes.kubeconfig`. */
  readonly tokenReviewer?: TokenReviewer;
  /** Replaces the CSR signer built from `config.kubeCertificates.kubeconfig`. */
  readonly kubeCsrSigner?: KubeCsrSigner;
  /** Operator log; default pino on stderr. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

/** A running broker. */
export interface RunningBroker {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Reads the SSH user CA key, refusing a file that group or others could
 * read or write (like ssh's "UNPROTECTED PRIVATE KEY FILE" check).
 */
export async function loadSshCaKey(path: string) {
  const info = await stat(path).catch((cause: unknown) => {
    throw new AirlockError('CONFIG_INVALID', `cannot read the SSH CA key ${path}`, { cause });
  });
  if ((info.mode & 0o077) !== 0) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `the SSH CA key ${path} has mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0600 or narrower`,
    );
  }
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
): Promise<() => { active: SshPrivateKey; all: readonly SshPrivateKey[] }> {
  if (config.sshCaDir !== undefined) {
    const keyring = watchSshCaKeyring(config.sshCaDir, clock);
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

/** Starts the broker from a validated configuration. */
export async function startBroker(
  config: BrokerConfig,
  overrides: BrokerOverrides = {},
): Promise<RunningBroker> {
  const clock = overrides.clock ?? (() => new Date());
  const logger = overrides.log
    ? undefined
    : pino({
        base: { tier: 'broker' },
        redact: { paths: ['*.token', '*.authorization'], censor: '[redacted]' },
      });
  const log = overrides.log ?? ((entry: Record<string, unknown>) => logger?.info(entry));

  const sshCa = await openSshCa(config, clock);
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

  const audit: AuditTrail = await createFileAuditTrail({
    path: config.audit.path,
    tier: 'broker',
    signingKey: createPrivateKey(await readFile(config.audit.signingKeyFile)),
    checkpointEvery: config.audit.checkpointEvery,
    clock,
  });
  const store = await createFileRequestStore(config.storeFile);
  const broker = createAccessBroker({
    policy,
    store,
    audit,
    denyList: createFileDenyList(config.denyListFile),
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
    log,
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
  const sweep = setInterval(() => {
    broker
      .expirePending()
      .catch((error: unknown) => log({ level: 'error', message: `expiry sweep: ${String(error)}` }));
  }, config.expirySweepSeconds * 1000);
  sweep.unref();
  return {
    url: server.url,
    async stop() {
      clearInterval(sweep);
      await server.stop();
      await store.close();
      await audit.close();
    },
  };
}

const HELP = `Usage: node dist/services/broker/main.js --config FILE

Runs the airlock access broker: the HTTPS JSON API that authenticates people
(OIDC ID tokens) and runbooks (Kubernetes ServiceAccount tokens), records
access requests and approvals, and signs session-scoped OpenSSH user
certificates. See docs/broker.md.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain('broker', HELP, async (configPath) => {
    const broker = await startBroker(loadBrokerConfig(configPath));
    return { readyLines: [`ready url=${broker.url}`], stop: () => broker.stop() };
  });
}
