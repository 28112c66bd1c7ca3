import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  loadYaml,
  VersionApi,
} from '@kubernetes/client-node';
import { BUNDLE_FILE, type CaKind } from '../../core/ca-keyring/keyring.js';
import {
  addKeyToKeyring,
  generateCaKeyFor,
  importCaKey,
  readKeyringManifest,
} from '../../core/ca-keyring/keyring-files.js';
import { AirlockError } from '../../core/errors.js';
import { impersonationVerbsFor, loadPolicy, renderRbac } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo-root.js';
import { loadOrCreateHostKey } from '../../core/ssh-cert/host-key.js';
import { emptyKrl, encodeKrl } from '../../core/ssh-cert/index.js';
import { createTierCa, issueServingCertificate, loadTierCa, type TierCa } from '../../core/x509/index.js';
import type { BrokerClientIo } from '../commands/broker-client-io.js';
import { runCert } from '../commands/cert-command.js';
import { runLogin } from '../commands/login.js';
import { runRequest } from '../commands/request-commands.js';
import { ProcessGroup } from './child-processes.js';
import { writeDevPolicy } from './demo-policy.js';
import { connectExistingCluster, type DevKubeTarget, hermeticTarget } from './dev-cluster-target.js';
import { type DevOidcProvider, startDevOidcProvider } from './dev-oidc-provider.js';
import { type HermeticCluster, startCluster } from './hermetic-cluster.js';

/** The cluster name the local stack's policy and certificates use. */
export const DEV_CLUSTER = 'dev';
export const DEMO_NAMESPACE = 'payments';
/** A namespace the demo scope must not reach. */
export const OTHER_NAMESPACE = 'billing';
const EXECUTOR_SA = { name: 'airlock-executor', namespace: 'airlock-system' };
const BROKER_SA = { name: 'airlock-broker', namespace: 'airlock-system' };
/** The runbook identity of docs/policy.example.json (`runbooks.payments-health.machineUsers`). */
export const INCIDENT_BOT_SA = { name: 'incident-bot', namespace: 'ops' };
/** The audience a runbook's ServiceAccount token must carry for the broker's TokenReview. */
export const BROKER_TOKEN_AUDIENCE = 'airlock-broker';
/** The OAuth client (and ID token audience) of the dev identity provider. */
export const DEV_CLIENT_ID = 'airlock-cli';
/** The demo pods' image, for clusters with a real kubelet (the hermetic cluster's fake one ignores it). */
const DEMO_IMAGE = 'docker.io/library/busybox:1.37';

/**
 * Demo people of the dev identity provider. Their IdP groups are mapped to
 * the policy's groups by the broker's `oidc.groupMapping`, as a real IdP's
 * would be.
 */
export const DEMO_PEOPLE = {
  /** On-call engineer: may request oncall-debug, auto-approved with an INC- reason. */
  oncall: { idpGroup: 'idp:payments-oncall', airlockGroup: 'payments-oncall' },
  /** Approver of oncall-debug requests. */
  lead: { idpGroup: 'idp:payments-leads', airlockGroup: 'payments-leads' },
} as const;

/** The gateway dev up runs, on whichever cluster. */
export interface DevGateway {
  /** The cluster it runs against (the hermetic one, or an existing one from `--kubeconfig`). */
  kube: DevKubeTarget;
  stateDir: string;
  sshPort: number;
  executorPort: number;
  /** The tiers' /healthz, /readyz and /metrics ports. */
  opsPorts: { executor: number; mediator: number; broker: number };
  knownHostsPath: string;
  /** The broker's HTTPS URL; `keys/broker-ca.pem` is the CA for it and for the identity provider. */
  brokerUrl: string;
  brokerCaPath: string;
  /** The CA keyrings that `airlock ca rotate` operates on; the tiers watch them. */
  caDirs: Readonly<Record<CaKind, string>>;
  /** The in-process dev OpenID provider (device flow; demo page at `${issuer}/device`). */
  oidc: DevOidcProvider;
  /** OpenSSH client config: `Host airlock` with the on-call user's key, certificate and known_hosts. */
  sshConfigPath: string;
  /**
   * Demo users with an SSH key each. `oncall` also holds a certificate the
   * broker issued at start-up (device-flow login, an auto-approved
   * `oncall-debug` request with an INC- reason, `airlock cert`).
   */
  users: Record<string, { keyPath: string; certPath: string }>;
  /** A ready-to-paste ssh command for the on-call demo user. */
  sshCommand: string;
  /** The policy file the tiers read. */
  policyPath: string;
  /** Where the mediator writes asciicast recordings of terminal sessions (`airlock audit play`). */
  recordingsDir: string;
  pids: readonly number[];
  stop(): Promise<void>;
}

/** The gateway on the hermetic cluster that dev up started. */
export interface DevStack extends DevGateway {
  cluster: HermeticCluster;
}

/** Optional knobs of `startDevStack`; the defaults are what `airlock dev up` runs. */
export interface DevStackOptions {
  /**
   * Policy file for both tiers and the executor's RBAC. Default: docs/policy.example.json plus the
   * `demo-shell` profile (demo-policy.ts), written to `config/policy.json` (the benchmarks bring their own).
   */
  policyPath?: string;
}

/**
 * Creates the keyring of `ca` unless it exists. An earlier run's single key
 * (the layout before keyrings) is imported, so certificates it issued stay
 * valid.
 */
export async function ensureKeyring(
  dir: string,
  ca: CaKind,
  legacy: { keyFile: string; certFile?: string },
  now: Date,
): Promise<void> {
  if (readKeyringManifest(dir) !== undefined) return;
  const key =
    existsSync(legacy.keyFile) && (legacy.certFile === undefined || existsSync(legacy.certFile))
      ? await importCaKey(ca, legacy)
      : await generateCaKeyFor(ca, { now, comment: `airlock-dev-${ca}-ca` });
  addKeyToKeyring(dir, ca, key, { now });
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

/** Creates each object; one that exists already is left as it is (and not reported to `onCreated`). */
async function applyObjects(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  onCreated?: (object: KubernetesObject) => void,
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    try {
      await api.create(object);
      onCreated?.(object);
    } catch (error) {
      if (!String(error).includes('AlreadyExists') && (error as { code?: number }).code !== 409) throw error;
    }
  }
}

/**
 * Demo pods: one serving HTTP on 8080, one writing logs; and one in the
 * namespace out of scope. The hermetic cluster's fake kubelet runs each
 * command on the host (FAKE_KUBELET_PORT_8080 is the local port it maps
 * 8080 to, and python3 serves it); a real cluster runs it in busybox, whose
 * httpd serves instead.
 */
function demoPods(nodeName: string | undefined): KubernetesObject[] {
  const pod = (namespace: string, name: string, command: string[], ports: number[] = []) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, '') } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [
        {
          name: 'main',
          image: DEMO_IMAGE,
          command,
          ports: ports.map((containerPort) => ({ containerPort, name: 'http' })),
        },
      ],
    },
  });
  return [
    pod(
      DEMO_NAMESPACE,
      'payments-api-0',
      [
        'sh',
        '-c',
        'port=$FAKE_KUBELET_PORT_8080; [ -n "$port" ] || port=8080; ' +
          'if command -v python3 >/dev/null; then exec python3 -m http.server --bind 127.0.0.1 "$port"; fi; ' +
          'mkdir -p /tmp/www && echo payments-api > /tmp/www/index.html && exec httpd -f -p "127.0.0.1:$port" -h /tmp/www',
      ],
      [8080],
    ),
    pod(DEMO_NAMESPACE, 'payments-worker-0', [
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo "processed batch $i"; sleep 2; done',
    ]),
    pod(OTHER_NAMESPACE, 'billing-api-0', ['sh', '-c', 'while true; do echo billing; sleep 5; done']),
  ];
}

/** The deploy/rbac templates (deploy/rbac/kustomization.yaml lists them). */
function rbacTemplates(root: string): KubernetesObject[] {
  const dir = join(root, 'deploy', 'rbac');
  const kustomization = loadYaml<{ resources: string[] }>(
    readFileSync(join(dir, 'kustomization.yaml'), 'utf8'),
  );
  return kustomization.resources.flatMap(
    (file) => loadAllYaml(readFileSync(join(dir, file), 'utf8')) as KubernetesObject[],
  );
}

/**
 * Waits until every demo pod runs, so the walkthrough works as soon as it is
 * printed (a real cluster pulls the image first). Fails naming the pods that
 * do not, with their phase and the reason a container waits.
 */
async function waitForPodsRunning(
  kc: KubeConfig,
  pods: readonly KubernetesObject[],
  onProgress: (line: string) => void,
  timeoutMs = 180_000,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  let reported = false;
  for (;;) {
    const states = await Promise.all(
      pods.map(async ({ metadata }) => {
        const [namespace, name] = [metadata?.namespace ?? '', metadata?.name ?? ''];
        const read = await core.readNamespacedPod({ namespace, name });
        const waiting = read.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
        const phase = read.status?.phase ?? 'Pending';
        return {
          name: `${namespace}/${name}`,
          running: phase === 'Running',
          shown: `${phase}${waiting ? ` (${waiting})` : read.spec?.nodeName ? '' : ' (not scheduled)'}`,
        };
      }),
    );
    const notYet = states.filter((state) => !state.running);
    if (notYet.length === 0) return;
    if (Date.now() > deadline) {
      throw new AirlockError(
        'CLUSTER_START_FAILED',
        `demo pods not running after ${timeoutMs / 1000} s: ${notYet.map((p) => `${p.name} ${p.shown}`).join(', ')}` +
          ' (a cluster without a scheduler needs --node NAME)',
      );
    }
    if (!reported) {
      onProgress(`waiting for the demo pods: ${notYet.map((p) => `${p.name} ${p.shown}`).join(', ')}`);
      reported = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function waitForReady(
  proc: ReturnType<ProcessGroup['start']>,
  name: string,
  crashed: Promise<never>,
): Promise<Record<string, string>> {
  return Promise.race([
    new Promise<Record<string, string>>((resolve) => {
      const lines = createInterface({ input: proc.child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('ready ')) {
          resolve(
            Object.fromEntries(
              line
                .slice(6)
                .split(' ')
                .map((pair) => pair.split('=') as [string, string]),
            ),
          );
        }
      });
    }),
    crashed,
  ]).catch((error: unknown) => {
    throw error instanceof AirlockError
      ? error
      : new AirlockError('CLUSTER_START_FAILED', `${name} failed to start`);
  });
}

/**
 * Gets a demo user a certificate the way a person does (docs/broker.md):
 * `airlock login` (device flow; the demo user approves the code at the
 * provider), `airlock request` with an incident reference (auto-approved by
 * the example policy), `airlock cert` (written next to the key). The client
 * code is the CLI's own; only its terminal is replaced.
 */
export async function issueThroughBroker(options: {
  brokerUrl: string;
  caPath: string;
  oidc: DevOidcProvider;
  user: string;
  configDir: string;
  publicKeyPath: string;
}): Promise<void> {
  let out = '';
  const io: BrokerClientIo = {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      const code = /enter the code (\S+)/.exec(text)?.[1];
      if (code !== undefined) options.oidc.approveDeviceCode(code, options.user);
    },
    configDir: options.configDir,
    homeDir: options.configDir,
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  await runLogin({ broker: options.brokerUrl, ca: options.caPath }, io);
  out = '';
  await runRequest(
    {
      profile: 'oncall-debug',
      cluster: DEV_CLUSTER,
      namespace: DEMO_NAMESPACE,
      pod: ['payments-*'],
      ttl: '30m',
      reason: 'INC-0000 airlock dev up: the demo certificate',
      key: options.publicKeyPath,
      json: true,
    },
    io,
  );
  const created = JSON.parse(out) as { id: string; status: string };
  if (created.status !== 'approved') {
    throw new AirlockError(
      'CLUSTER_START_FAILED',
      `the demo request ${created.id} was not auto-approved (${created.status})`,
    );
  }
  await runCert(created.id, { key: options.publicKeyPath }, io);
}

/**
 * `airlock dev up`: the whole gateway on one machine. Starts the hermetic
 * cluster, then the gateway on it (`startGateway`). Stopping the stack stops
 * the cluster too.
 */
export async function startDevStack(
  stateDir: string,
  onProgress: (line: string) => void,
  options: DevStackOptions = {},
): Promise<DevStack> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const cluster = await startCluster({ stateDir: join(stateDir, 'cluster'), onProgress });
  const gateway = await startGateway(stateDir, hermeticTarget(cluster), onProgress, options);
  return { ...gateway, cluster };
}

/**
 * `airlock dev up --kubeconfig FILE`: the gateway on an existing cluster.
 * Checks the kubeconfig, that the cluster answers and that its user is
 * cluster-admin before creating anything; records every object it creates
 * (for `dev down`); never stops the cluster.
 */
export async function startDevStackOnCluster(
  stateDir: string,
  target: { kubeconfigPath: string; nodeName?: string; kubectl?: string },
  onProgress: (line: string) => void,
  options: DevStackOptions = {},
): Promise<DevGateway> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  onProgress(`connecting to the cluster of ${target.kubeconfigPath}`);
  const kube = await connectExistingCluster({ ...target, stateDir });
  return startGateway(stateDir, kube, onProgress, options);
}

/**
 * The gateway on a cluster: creates the dev CAs and keys under the state dir
 * (kept for the next run), applies the executor's RBAC (rendered from the
 * policy), the deploy/rbac templates and demo pods, runs the executor,
 * mediator and broker as separate processes with their own credentials and
 * the dev OpenID provider in this process, and has the broker issue the
 * on-call demo user's certificate. `stop` stops what it started, and the
 * cluster only when the target says it was started for it.
 */
async function startGateway(
  stateDir: string,
  kube: DevKubeTarget,
  onProgress: (line: string) => void,
  options: DevStackOptions,
): Promise<DevGateway> {
  const dirs = {
    keys: join(stateDir, 'keys'),
    audit: join(stateDir, 'audit'),
    users: join(stateDir, 'users'),
    config: join(stateDir, 'config'),
  };
  const group = new ProcessGroup();
  let stopOidc = async () => {};
  const stop = async () => {
    await group.stopAll();
    await stopOidc();
    await kube.stop();
  };
  try {
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const root = repoRoot();
    const policyPath = options.policyPath ?? join(dirs.config, 'policy.json');
    const policy = options.policyPath
      ? loadPolicy(readFileSync(policyPath, 'utf8'))
      : writeDevPolicy(root, policyPath, { cluster: DEV_CLUSTER, namespace: DEMO_NAMESPACE });
    const now = new Date();

    const reusing = readKeyringManifest(join(dirs.keys, 'ca', 'ssh-user')) !== undefined;
    onProgress(reusing ? `reusing the dev CAs and keys in ${dirs.keys}` : 'creating dev CAs and keys');
    // The three CAs that rotate (`airlock ca rotate <ca> … --dir <caDirs[ca]>`) live in keyrings;
    // kept across runs (a second `dev up` reuses them): certificates issued earlier stay verifiable.
    const caDirs: DevStack['caDirs'] = {
      'ssh-user': join(dirs.keys, 'ca', 'ssh-user'),
      mediator: join(dirs.keys, 'ca', 'mediator'),
      executor: join(dirs.keys, 'ca', 'executor'),
    };
    await ensureKeyring(caDirs['ssh-user'], 'ssh-user', { keyFile: join(dirs.keys, 'ssh-user-ca') }, now);
    const tiers: Record<string, { cert: string; key: string; ca: TierCa }> = {};
    for (const tier of ['mediator', 'executor', 'broker'] as const) {
      const cert = join(dirs.keys, `${tier}-ca.pem`);
      const key = join(dirs.keys, `${tier}-ca.key`);
      if (tier !== 'broker') {
        await ensureKeyring(caDirs[tier], tier, { certFile: cert, keyFile: key }, now);
      } else {
        if (!existsSync(cert) || !existsSync(key)) {
          const ca = await createTierCa({ tier, now });
          writeFileSync(cert, ca.certPem);
          writeSecret(key, ca.privateKeyPem);
        }
        tiers[tier] = {
          cert,
          key,
          ca: await loadTierCa(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8')),
        };
      }
      const auditKey = join(dirs.keys, `${tier}-audit.key`);
      if (!existsSync(auditKey)) {
        const { privateKey } = generateKeyPairSync('ed25519');
        writeSecret(auditKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
        writeFileSync(
          join(dirs.keys, `${tier}-audit.pub`),
          createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
        );
      }
    }
    // One deny list and one KRL with the same revocations: the broker writes
    // both, the mediator and executor watch both (they start before the broker).
    const denyListPath = join(dirs.keys, 'revoked.json');
    if (!existsSync(denyListPath)) {
      writeFileSync(denyListPath, JSON.stringify({ serials: [], keyIds: [], fingerprints: [] }));
    }
    const krlPath = join(dirs.keys, 'revoked.krl');
    if (!existsSync(krlPath)) writeFileSync(krlPath, encodeKrl(emptyKrl('airlock broker revocations')));

    onProgress('applying RBAC and demo pods');
    const admin = new KubeConfig();
    admin.loadFromFile(kube.kubeconfigPath);
    const namespaces = [EXECUTOR_SA.namespace, DEMO_NAMESPACE, OTHER_NAMESPACE].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    }));
    await applyObjects(admin, namespaces, kube.onCreated);
    await applyObjects(
      admin,
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: INCIDENT_BOT_SA.namespace } },
        ...[EXECUTOR_SA, BROKER_SA, INCIDENT_BOT_SA].map(
          (sa) =>
            ({
              apiVersion: 'v1',
              kind: 'ServiceAccount',
              metadata: { name: sa.name, namespace: sa.namespace },
            }) as KubernetesObject,
        ),
        // The broker reviews runbook tokens (TokenReview) and nothing else here.
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'airlock-broker-token-review' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'system:auth-delegator',
          },
          subjects: [{ kind: 'ServiceAccount', name: BROKER_SA.name, namespace: BROKER_SA.namespace }],
        } as KubernetesObject,
      ],
      kube.onCreated,
    );
    // Constrained impersonation where the cluster knows it (1.36+), the classic verb before.
    const version = await admin.makeApiClient(VersionApi).getCode();
    await applyObjects(
      admin,
      renderRbac(policy, {
        cluster: DEV_CLUSTER,
        namespaces: [DEMO_NAMESPACE],
        executorServiceAccount: EXECUTOR_SA,
        impersonation: impersonationVerbsFor(version.major, version.minor),
      }) as KubernetesObject[],
      kube.onCreated,
    );
    // The deploy/rbac templates, as a platform team would apply them (deploy/rbac/README.md).
    await applyObjects(admin, rbacTemplates(root), kube.onCreated);
    for (let attempt = 0; ; attempt++) {
      try {
        await applyObjects(admin, demoPods(kube.nodeName), kube.onCreated);
        break;
      } catch (error) {
        if (attempt > 50 || !String(error).includes('serviceaccount')) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await waitForPodsRunning(admin, demoPods(kube.nodeName), onProgress);
    const serviceAccountKubeconfig = async (sa: { name: string; namespace: string }, file: string) => {
      const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
        namespace: sa.namespace,
        name: sa.name,
        // No audience: the API server's own, whatever the cluster calls it.
        body: { spec: { audiences: [], expirationSeconds: 86_400 } },
      });
      const path = join(dirs.config, file);
      writeSecret(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: DEV_CLUSTER,
              cluster: kube.clusterEntry,
            },
          ],
          users: [{ name: sa.name, user: { token: token.status?.token } }],
          contexts: [{ name: DEV_CLUSTER, context: { cluster: DEV_CLUSTER, user: sa.name } }],
          'current-context': DEV_CLUSTER,
        }),
      );
      return path;
    };
    const executorKubeconfig = await serviceAccountKubeconfig(EXECUTOR_SA, 'executor.kubeconfig');
    const brokerKubeconfig = await serviceAccountKubeconfig(BROKER_SA, 'broker.kubeconfig');

    const executorConfig = join(dirs.config, 'executor.json');
    writeFileSync(
      executorConfig,
      JSON.stringify({
        listen: '127.0.0.1:0',
        cluster: DEV_CLUSTER,
        policyFile: policyPath,
        sshUserCaKeysFile: join(caDirs['ssh-user'], BUNDLE_FILE['ssh-user']),
        revocation: { krlFiles: [krlPath], denyListFiles: [denyListPath] },
        mediatorCaBundleFile: join(caDirs.mediator, BUNDLE_FILE.mediator),
        executorCa: { dir: caDirs.executor },
        serving: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
        audit: {
          path: join(dirs.audit, 'executor.jsonl'),
          signingKeyFile: join(dirs.keys, 'executor-audit.key'),
        },
        kubeconfig: executorKubeconfig,
        ops: { listen: '127.0.0.1:0' },
        drainSeconds: 5,
      }),
    );
    const node = process.execPath;
    const dist = join(root, 'dist', 'services');
    const executor = group.start(
      'executor',
      node,
      [join(dist, 'executor', 'main.js'), '--config', executorConfig],
      join(stateDir, 'executor.log'),
    );
    const crashed = group.watchForCrash();
    crashed.catch(() => {});
    const executorReady = await waitForReady(executor, 'executor', crashed);
    const executorPort = Number(executorReady.port);

    const mediatorConfig = join(dirs.config, 'mediator.json');
    const recordingsDir = join(dirs.audit, 'recordings');
    const hostKeyPath = join(dirs.keys, 'ssh_host_ed25519_key');
    writeFileSync(
      mediatorConfig,
      JSON.stringify({
        listen: '127.0.0.1:0',
        hostKeyFile: hostKeyPath,
        policyFile: policyPath,
        sshUserCaKeysFile: join(caDirs['ssh-user'], BUNDLE_FILE['ssh-user']),
        revocation: { krlFiles: [krlPath], denyListFiles: [denyListPath] },
        mediatorCa: { dir: caDirs.mediator },
        executor: {
          address: `127.0.0.1:${executorPort}`,
          caBundleFile: join(caDirs.executor, BUNDLE_FILE.executor),
        },
        audit: {
          path: join(dirs.audit, 'mediator.jsonl'),
          signingKeyFile: join(dirs.keys, 'mediator-audit.key'),
        },
        ops: { listen: '127.0.0.1:0' },
        recordings: { dir: recordingsDir },
        drainSeconds: 5,
      }),
    );
    // The mediator gets no Kubernetes credential: not even the environment that points at one.
    // The broker gets only the kubeconfig its config names.
    const noKubeEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('KUBE')),
    );
    const mediator = group.start(
      'mediator',
      node,
      [join(dist, 'mediator', 'main.js'), '--config', mediatorConfig],
      join(stateDir, 'mediator.log'),
      noKubeEnv,
    );
    const mediatorReady = await waitForReady(mediator, 'mediator', group.watchForCrash());
    const sshPort = Number(mediatorReady.port);
    const hostKeyLine = loadOrCreateHostKey(hostKeyPath).publicKeyLine;
    const knownHostsPath = join(stateDir, 'known_hosts');
    writeFileSync(knownHostsPath, `[127.0.0.1]:${sshPort} ${hostKeyLine}\n`);

    onProgress('starting the dev identity provider and the broker');
    const providerCert = await issueServingCertificate(tiers.broker!.ca, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      now,
    });
    const oidc = await startDevOidcProvider({
      tls: {
        key: providerCert.privateKeyPem ?? '',
        cert: `${providerCert.certPem}${tiers.broker!.ca.certPem}`,
      },
      clientId: DEV_CLIENT_ID,
      users: Object.fromEntries(
        Object.entries(DEMO_PEOPLE).map(([user, p]) => [
          user,
          { groups: [p.idpGroup], email: `${user}@airlock.dev` },
        ]),
      ),
      pollIntervalSeconds: 1,
    });
    stopOidc = () => oidc.stop();
    const brokerConfig = join(dirs.config, 'broker.json');
    writeFileSync(
      brokerConfig,
      JSON.stringify(
        {
          listen: { host: '127.0.0.1', port: 0 },
          tls: { tierCaCertFile: tiers.broker!.cert, tierCaKeyFile: tiers.broker!.key },
          policyFile: policyPath,
          // The broker is the SSH user CA keys' only user; the tiers read the public keys.
          sshCaDir: caDirs['ssh-user'],
          store: { sqlite: { path: join(stateDir, 'broker', 'requests.db') }, retentionDays: 90 },
          denyListFile: denyListPath,
          revocationKrlFile: krlPath,
          audit: {
            path: join(dirs.audit, 'broker.jsonl'),
            signingKeyFile: join(dirs.keys, 'broker-audit.key'),
          },
          oidc: {
            issuer: oidc.issuer,
            clientId: DEV_CLIENT_ID,
            caFile: tiers.broker!.cert,
            usernameClaim: 'preferred_username',
            groupsClaim: 'groups',
            groupMapping: Object.fromEntries(
              Object.values(DEMO_PEOPLE).map((p) => [p.idpGroup, [p.airlockGroup]]),
            ),
            passThroughGroups: false,
          },
          kubernetes: {
            kubeconfig: brokerKubeconfig,
            audiences: [BROKER_TOKEN_AUDIENCE],
            machineGroups: {
              [`system:serviceaccount:${INCIDENT_BOT_SA.namespace}:${INCIDENT_BOT_SA.name}`]: [
                'runbook-runners',
              ],
            },
          },
          adminGroups: ['airlock-admins'],
          ops: { listen: '127.0.0.1:0' },
        },
        null,
        2,
      ),
    );
    mkdirSync(join(stateDir, 'broker'), { recursive: true, mode: 0o700 });
    const broker = group.start(
      'broker',
      node,
      [join(dist, 'broker', 'main.js'), '--config', brokerConfig],
      join(stateDir, 'broker.log'),
      noKubeEnv,
    );
    const brokerReady = await waitForReady(broker, 'broker', group.watchForCrash());
    const brokerUrl = brokerReady.url!;

    onProgress('issuing the demo certificate through the broker (login, request, cert)');
    const users: DevStack['users'] = {};
    for (const user of ['oncall', 'lead']) {
      const keyPath = join(dirs.users, user, 'id_ed25519');
      mkdirSync(join(dirs.users, user), { recursive: true, mode: 0o700 });
      if (!existsSync(keyPath)) {
        const made = spawnSync('ssh-keygen', [
          '-q',
          '-t',
          'ed25519',
          '-N',
          '',
          '-C',
          `${user}@airlock-dev`,
          '-f',
          keyPath,
        ]);
        if (made.status !== 0)
          throw new AirlockError('CLUSTER_START_FAILED', 'ssh-keygen is required for the demo users');
      }
      users[user] = { keyPath, certPath: `${keyPath}-cert.pub` };
    }
    await issueThroughBroker({
      brokerUrl,
      caPath: tiers.broker!.cert,
      oidc,
      user: 'oncall',
      configDir: join(dirs.users, 'oncall', 'dev-up-login'),
      publicKeyPath: `${users.oncall!.keyPath}.pub`,
    });

    const sshConfigPath = join(stateDir, 'ssh_config');
    writeFileSync(
      sshConfigPath,
      [
        '# Written by airlock dev up: ssh -F THIS_FILE airlock pods',
        'Host airlock',
        '  HostName 127.0.0.1',
        `  Port ${sshPort}`,
        '  User oncall',
        `  IdentityFile ${users.oncall!.keyPath}`,
        `  CertificateFile ${users.oncall!.certPath}`,
        `  UserKnownHostsFile ${knownHostsPath}`,
        '  StrictHostKeyChecking yes',
        '  IdentitiesOnly yes',
        '',
        // The walkthrough's runbook: the ServiceAccount's own key and certificate, nothing of oncall's.
        'Host airlock-runbook',
        '  HostName 127.0.0.1',
        `  Port ${sshPort}`,
        `  User system:serviceaccount:${INCIDENT_BOT_SA.namespace}:${INCIDENT_BOT_SA.name}`,
        `  IdentityFile ${join(dirs.users, INCIDENT_BOT_SA.name, 'id_ed25519')}`,
        `  CertificateFile ${join(dirs.users, INCIDENT_BOT_SA.name, 'id_ed25519-cert.pub')}`,
        `  UserKnownHostsFile ${knownHostsPath}`,
        '  StrictHostKeyChecking yes',
        '  IdentitiesOnly yes',
        '',
      ].join('\n'),
    );
    const sshCommand = `ssh -F ${sshConfigPath} airlock`;
    return {
      kube,
      stateDir,
      sshPort,
      executorPort,
      opsPorts: {
        executor: Number(executorReady.ops),
        mediator: Number(mediatorReady.ops),
        broker: Number(brokerReady.ops),
      },
      knownHostsPath,
      brokerUrl,
      brokerCaPath: tiers.broker!.cert,
      caDirs,
      oidc,
      sshConfigPath,
      users,
      sshCommand,
      policyPath,
      recordingsDir,
      pids: [...kube.pids, ...group.processes.map((p) => p.pid)],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
