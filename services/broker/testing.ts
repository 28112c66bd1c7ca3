/**
 * A complete broker for tests, shipped as real code: a broker tier CA, the
 * in-process OpenID provider over HTTPS, the example policy, an SSH user CA
 * key (0600), a signed file audit trail, the request store (SQLite, or
 * PostgreSQL under AIRLOCK_TEST_STORE=postgres), deny list
 * and revocation KRL in a temporary directory, and `startBroker` over HTTPS on 127.0.0.1.
 * Nothing is mocked except the TokenReview port (InMemoryTokenReviewer).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoUser, type DevOidcProvider, startDevOidcProvider } from '../cli/dev/dev-oidc-provider.js';
import { httpsCall } from '../core/https/https-client.js';
import { repoRoot } from '../core/repo/repo-root.js';
import { formatOpenSshPrivateKey, formatPublicKeyLine, generateCaKey } from '../core/ssh-cert/index.js';
import { createTierCa, issueServingCertificate, type TierCa } from '../core/x509/index.js';
import type { BrokerConfig } from './config.js';
import { InMemoryTokenReviewer } from './identity.js';
import { InMemoryKubeCsrSigner, type KubeCsrSigner } from './kube-csr-signer.js';
import type { TierLauncher } from './launcher/tier-launcher.js';
import { type RunningBroker, startBroker } from './main.js';
import type { ConfigMapApi } from './revocation-config-map.js';
import { testStoreConfig } from './store/testing.js';

/** Demo users of the test provider and what the example policy lets them do. */
export const TEST_USERS: Readonly<Record<string, DemoUser>> = {
  /** May request oncall-debug; auto-approved with an incident reference. */
  alice: { groups: ['payments-oncall'], email: 'alice@example.com' },
  /** Approves oncall-debug requests. */
  bob: { groups: ['payments-leads'] },
  /** May request oncall-debug (sre) but not approve it. */
  carol: { groups: ['sre'] },
  /** Broker admin. */
  erin: { groups: ['airlock-admins'] },
};

export const TEST_CLIENT_ID = 'airlock-cli';
export const INCIDENT_BOT = 'system:serviceaccount:ops:incident-bot';

/** A parsed response body; tests read its fields directly and assert them exactly. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type ApiBody = any;

/** A running broker with everything it needs. */
export interface BrokerTestEnv {
  readonly dir: string;
  readonly url: string;
  /** The broker's ops port (/healthz, /readyz, /metrics). */
  readonly opsPort: number | undefined;
  /** PEM of the broker tier CA, which also signed the provider's serving certificate. */
  readonly caPem: string;
  readonly caFile: string;
  readonly tierCa: TierCa;
  readonly provider: DevOidcProvider;
  readonly reviewer: InMemoryTokenReviewer;
  readonly config: BrokerConfig;
  /** The SSH user CA public key line (what sshd / the mediator trust). */
  readonly sshCaPublicLine: string;
  /** The host CA public key line (ephemeral mode publishes it with each certificate). */
  readonly hostCaPublicLine: string;
  /** Operator log entries. */
  readonly logs: Record<string, unknown>[];
  /** The kube client certificate signer (an InMemoryKubeCsrSigner unless one was passed). */
  readonly kubeCsrSigner: KubeCsrSigner;
  /** Moves the shared clock (broker and provider) forward. */
  advance(seconds: number): void;
  now(): Date;
  /** Calls the broker API. */
  call(
    method: 'GET' | 'POST',
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; body: ApiBody }>;
  /** Stops the broker only (the files stay), for restart tests. */
  stopBroker(): Promise<void>;
  /** Starts a broker again on the same files. */
  restartBroker(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startBrokerTestEnv}. */
export interface BrokerTestEnvOptions {
  /**
   * Kubernetes client certificates (config `kubeCertificates`) for this
   * cluster name; default `dev`. `false` turns the feature off.
   */
  readonly kubeCertificatesCluster?: string | false;
  /** Default: an InMemoryKubeCsrSigner on the shared clock. */
  readonly kubeCsrSigner?: KubeCsrSigner;
  /** The provider offers the device grant; default true (false: auth-code flow only). */
  readonly deviceFlow?: boolean;
  /** Replaces fields of config `oidc` (default: preferred_username, pass-through groups). */
  readonly oidc?: Partial<BrokerConfig['oidc']>;
  /** Config `store`; default SQLite in the environment's directory (PostgreSQL: services/broker/store/testing.ts). */
  readonly store?: BrokerConfig['store'];
  /** Config `webhook`; default none. */
  readonly webhook?: BrokerConfig['webhook'];
  /** Config `revocationConfigMap` and the client it publishes with; default none. */
  readonly revocationConfigMap?: {
    readonly config: NonNullable<BrokerConfig['revocationConfigMap']>;
    readonly api: ConfigMapApi;
  };
  /** Ephemeral mode (config `launcher`) with this launcher; default standing mode. */
  readonly tierLauncher?: TierLauncher;
}

/** The files the test broker reads, written into `dir` (keys 0600). */
interface TestBrokerFiles {
  readonly caFile: string;
  readonly tierCaKeyFile: string;
  readonly sshCaKeyFile: string;
  readonly hostCaKeyFile: string;
  readonly auditKeyFile: string;
  readonly policyFile: string;
}

/**
 * Writes the broker tier CA, a fresh SSH user CA, host CA (ephemeral mode
 * signs each mediator's host certificate with it) and audit signing key, and
 * the example policy into `dir`; returns the paths and the two SSH CAs.
 */
function writeTestBrokerFiles(
  dir: string,
  tierCa: TierCa,
): {
  files: TestBrokerFiles;
  sshCa: ReturnType<typeof generateCaKey>;
  hostCa: ReturnType<typeof generateCaKey>;
} {
  const caFile = join(dir, 'broker-ca.pem');
  writeFileSync(caFile, tierCa.certPem);
  const tierCaKeyFile = join(dir, 'broker-ca.key');
  writeFileSync(tierCaKeyFile, tierCa.privateKeyPem, { mode: 0o600 });
  const sshCa = generateCaKey('ed25519', 'airlock-test-ca');
  const sshCaKeyFile = join(dir, 'ssh_user_ca');
  writeFileSync(sshCaKeyFile, formatOpenSshPrivateKey(sshCa.privateKey, 'airlock-test-ca'), { mode: 0o600 });
  const hostCa = generateCaKey('ed25519', 'airlock-host-ca');
  const hostCaKeyFile = join(dir, 'ssh_host_ca');
  writeFileSync(hostCaKeyFile, formatOpenSshPrivateKey(hostCa.privateKey, 'airlock-host-ca'), {
    mode: 0o600,
  });
  const auditKey = generateKeyPairSync('ed25519').privateKey;
  const auditKeyFile = join(dir, 'audit.key');
  writeFileSync(auditKeyFile, auditKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, readFileSync(join(repoRoot(), 'docs/policy.example.json')));
  const files = { caFile, tierCaKeyFile, sshCaKeyFile, hostCaKeyFile, auditKeyFile, policyFile };
  return { files, sshCa, hostCa };
}

/** The in-process OpenID provider over HTTPS, its certificate from the broker tier CA. */
async function startTestProvider(
  tierCa: TierCa,
  clock: () => Date,
  options: BrokerTestEnvOptions,
): Promise<DevOidcProvider> {
  const providerCert = await issueServingCertificate(tierCa, { ipAddresses: ['127.0.0.1'], now: new Date() });
  return startDevOidcProvider({
    tls: { key: providerCert.privateKeyPem ?? '', cert: providerCert.certPem },
    clientId: TEST_CLIENT_ID,
    users: TEST_USERS,
    pollIntervalSeconds: 1,
    clock,
    ...(options.deviceFlow === undefined ? {} : { deviceFlow: options.deviceFlow }),
  });
}

/** The ephemeral-mode `launcher` settings of a test broker (cluster `prod-eu`). */
function testLauncherConfig(namespace: string, hostCaKeyFile: string): NonNullable<BrokerConfig['launcher']> {
  return {
    mode: 'ephemeral',
    namespace,
    cluster: 'prod-eu',
    images: { mediator: 'airlock-mediator:test', executor: 'airlock-executor:test' },
    hostCa: { keyFile: hostCaKeyFile },
    sweepSeconds: 30,
  };
}

/** The broker configuration of the environment: everything under `dir`, on 127.0.0.1, ops on. */
async function testBrokerConfig(
  dir: string,
  files: TestBrokerFiles,
  issuer: string,
  options: BrokerTestEnvOptions,
): Promise<BrokerConfig> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    tls: {
      tierCaCertFile: files.caFile,
      tierCaKeyFile: files.tierCaKeyFile,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeSeconds: 3600,
    },
    policyFile: files.policyFile,
    sshCaKeyFile: files.sshCaKeyFile,
    store: options.store ?? (await testStoreConfig(dir)),
    denyListFile: join(dir, 'deny-list.json'),
    revocationKrlFile: join(dir, 'revoked.krl'),
    audit: {
      path: join(dir, 'audit.jsonl'),
      signingKeyFile: files.auditKeyFile,
      checkpointEvery: 100,
      checkpointSeconds: 5,
    },
    oidc: {
      issuer,
      clientId: TEST_CLIENT_ID,
      caFile: files.caFile,
      usernameClaim: 'preferred_username',
      groupsClaim: 'groups',
      groupMapping: {},
      passThroughGroups: true,
      clockToleranceSeconds: 0,
      ...options.oidc,
    },
    kubernetes: {
      audiences: ['airlock-broker'],
      machineGroups: { [INCIDENT_BOT]: ['runbook-runners'] },
    },
    adminGroups: ['airlock-admins'],
    expirySweepSeconds: 3600,
    logLevel: 'info',
    ...(options.webhook ? { webhook: options.webhook } : {}),
    ...(options.revocationConfigMap ? { revocationConfigMap: options.revocationConfigMap.config } : {}),
    ops: { listen: '127.0.0.1:0' },
    ...(options.tierLauncher
      ? { launcher: testLauncherConfig(options.tierLauncher.namespace, files.hostCaKeyFile) }
      : {}),
    ...(options.kubeCertificatesCluster === false
      ? {}
      : { kubeCertificates: { cluster: options.kubeCertificatesCluster ?? 'dev', signTimeoutSeconds: 30 } }),
  };
}

/** Starts the environment. */
export async function startBrokerTestEnv(options: BrokerTestEnvOptions = {}): Promise<BrokerTestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-broker-'));
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const tierCa = await createTierCa({ tier: 'broker', now: new Date(Date.now() - 60_000) });
  const { files, sshCa, hostCa } = writeTestBrokerFiles(dir, tierCa);
  const provider = await startTestProvider(tierCa, clock, options);
  const reviewer = new InMemoryTokenReviewer();
  const config = await testBrokerConfig(dir, files, provider.issuer, options);
  const kubeCsrSigner = options.kubeCsrSigner ?? new InMemoryKubeCsrSigner(clock);
  const logs: Record<string, unknown>[] = [];
  let broker: RunningBroker | undefined;
  const start = async () => {
    broker = await startBroker(config, {
      clock,
      tokenReviewer: reviewer,
      kubeCsrSigner,
      ...(options.revocationConfigMap ? { configMapApi: options.revocationConfigMap.api } : {}),
      ...(options.tierLauncher ? { tierLauncher: options.tierLauncher } : {}),
      log: (e) => logs.push(e),
    });
  };
  await start();
  const env: BrokerTestEnv = {
    dir,
    get url() {
      return broker?.url ?? '';
    },
    get opsPort() {
      return broker?.opsPort;
    },
    caPem: tierCa.certPem,
    caFile: files.caFile,
    tierCa,
    provider,
    reviewer,
    config,
    sshCaPublicLine: formatPublicKeyLine(sshCa.publicKey, 'airlock-test-ca'),
    hostCaPublicLine: formatPublicKeyLine(hostCa.publicKey, 'airlock-host-ca'),
    logs,
    kubeCsrSigner,
    advance(seconds) {
      offsetMs += seconds * 1000;
    },
    now: clock,
    async call(method, path, token, body) {
      const response = await httpsCall(`${env.url}${path}`, {
        method,
        ca: tierCa.certPem,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { json: body }),
      });
      return { status: response.status, body: response.body };
    },
    async stopBroker() {
      await broker?.stop();
      broker = undefined;
    },
    restartBroker: start,
    async stop() {
      await broker?.stop();
      await provider.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}
