import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { AirlockError } from '../../core/errors.js';
import { loadPolicy, renderRbac } from '../../core/policy/index.js';
import { repoRoot } from '../../core/repo-root.js';
import {
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  generateCaKey,
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
  signUserCertificate,
} from '../../core/ssh-cert/index.js';
import { createTierCa } from '../../core/x509/index.js';
import { loadOrCreateHostKey } from '../../mediator/host-key.js';
import { ProcessGroup } from './child-processes.js';
import { type HermeticCluster, startCluster } from './hermetic-cluster.js';

/** The cluster name the local stack's policy and certificates use. */
export const DEV_CLUSTER = 'dev';
export const DEMO_NAMESPACE = 'payments';
/** A namespace the demo scope must not reach. */
export const OTHER_NAMESPACE = 'billing';
const EXECUTOR_SA = { name: 'airlock-executor', namespace: 'airlock-system' };

export interface DevStack {
  cluster: HermeticCluster;
  stateDir: string;
  sshPort: number;
  executorPort: number;
  /** The tiers' /healthz, /readyz and /metrics ports. */
  opsPorts: { executor: number; mediator: number };
  knownHostsPath: string;
  /** Demo users with a key and a fresh certificate each: oncall (oncall-debug), reader (cluster-read). */
  users: Record<string, { keyPath: string; certPath: string }>;
  /** A ready-to-paste ssh command for the on-call demo user. */
  sshCommand: string;
  pids: readonly number[];
  stop(): Promise<void>;
}

/** Optional knobs of `startDevStack`; the defaults are what `airlock dev up` runs. */
export interface DevStackOptions {
  /** Policy file for both tiers and the executor's RBAC. Default: docs/policy.example.json (the benchmarks bring their own). */
  policyPath?: string;
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    try {
      await api.create(object);
    } catch (error) {
      if (!String(error).includes('AlreadyExists') && (error as { code?: number }).code !== 409) throw error;
    }
  }
}

/** Demo pods: one serving HTTP on 8080, one writing logs; and one in the namespace out of scope. */
function demoPods(nodeName: string): KubernetesObject[] {
  const pod = (namespace: string, name: string, command: string[], ports: number[] = []) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, '') } },
    spec: {
      nodeName,
      containers: [
        {
          name: 'main',
          image: 'example.invalid/demo:1',
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
      ['sh', '-c', 'exec python3 -m http.server --bind 127.0.0.1 "$FAKE_KUBELET_PORT_8080"'],
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
 * `airlock dev up`: the whole gateway on one machine. Starts the hermetic
 * cluster, creates the dev CAs and keys under the state dir, applies the
 * executor's RBAC (rendered from the policy) and demo pods, and runs the
 * executor and mediator as separate processes with their own credentials.
 */
export async function startDevStack(
  stateDir: string,
  onProgress: (line: string) => void,
  options: DevStackOptions = {},
): Promise<DevStack> {
  const dirs = {
    keys: join(stateDir, 'keys'),
    audit: join(stateDir, 'audit'),
    users: join(stateDir, 'users'),
    config: join(stateDir, 'config'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cluster = await startCluster({ stateDir: join(stateDir, 'cluster'), onProgress });
  const group = new ProcessGroup();
  const stop = async () => {
    await group.stopAll();
    await cluster.stop();
  };
  try {
    const root = repoRoot();
    const policyPath = options.policyPath ?? join(root, 'docs', 'policy.example.json');
    const policy = loadPolicy(readFileSync(policyPath, 'utf8'));
    const now = new Date();

    onProgress('creating dev CAs and keys');
    const sshCaPath = join(dirs.keys, 'ssh-user-ca');
    if (!existsSync(sshCaPath)) {
      const ca = generateCaKey('ed25519', 'airlock-dev-ssh-user-ca');
      writeSecret(sshCaPath, formatOpenSshPrivateKey(ca.privateKey, 'airlock-dev-ssh-user-ca'));
      writeFileSync(`${sshCaPath}.pub`, `${formatPublicKeyLine(ca.publicKey, 'airlock-dev-ssh-user-ca')}\n`);
    }
    const sshCa = parseOpenSshPrivateKey(readFileSync(sshCaPath, 'utf8'));
    const tiers: Record<string, { cert: string; key: string }> = {};
    for (const tier of ['mediator', 'executor'] as const) {
      const ca = await createTierCa({ tier, now });
      tiers[tier] = { cert: join(dirs.keys, `${tier}-ca.pem`), key: join(dirs.keys, `${tier}-ca.key`) };
      writeFileSync(tiers[tier].cert, ca.certPem);
      writeSecret(tiers[tier].key, ca.privateKeyPem);
      const { privateKey } = generateKeyPairSync('ed25519');
      writeSecret(
        join(dirs.keys, `${tier}-audit.key`),
        privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      );
      writeFileSync(
        join(dirs.keys, `${tier}-audit.pub`),
        createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
      );
    }
    writeFileSync(
      join(dirs.keys, 'revoked.json'),
      JSON.stringify({ serials: [], keyIds: [], fingerprints: [] }),
    );

    onProgress('applying RBAC and demo pods');
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.kubeconfigPath);
    const namespaces = [EXECUTOR_SA.namespace, DEMO_NAMESPACE, OTHER_NAMESPACE].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    }));
    await applyObjects(admin, namespaces);
    await applyObjects(admin, [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: EXECUTOR_SA.name, namespace: EXECUTOR_SA.namespace },
      } as KubernetesObject,
    ]);
    await applyObjects(
      admin,
      renderRbac(policy, {
        cluster: DEV_CLUSTER,
        namespaces: [DEMO_NAMESPACE],
        executorServiceAccount: EXECUTOR_SA,
      }) as KubernetesObject[],
    );
    for (let attempt = 0; ; attempt++) {
      try {
        await applyObjects(admin, demoPods(cluster.nodeName));
        break;
      } catch (error) {
        if (attempt > 50 || !String(error).includes('serviceaccount')) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      namespace: EXECUTOR_SA.namespace,
      name: EXECUTOR_SA.name,
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 86_400 } },
    });
    const executorKubeconfig = join(dirs.config, 'executor.kubeconfig');
    writeSecret(
      executorKubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: DEV_CLUSTER,
            cluster: { server: cluster.server, 'certificate-authority': cluster.pki.caCert },
          },
        ],
        users: [{ name: EXECUTOR_SA.name, user: { token: token.status?.token } }],
        contexts: [{ name: DEV_CLUSTER, context: { cluster: DEV_CLUSTER, user: EXECUTOR_SA.name } }],
        'current-context': DEV_CLUSTER,
      }),
    );

    const executorConfig = join(dirs.config, 'executor.json');
    writeFileSync(
      executorConfig,
      JSON.stringify({
        listen: '127.0.0.1:0',
        cluster: DEV_CLUSTER,
        policyFile: policyPath,
        sshUserCaKeysFile: `${sshCaPath}.pub`,
        revocation: { denyListFiles: [join(dirs.keys, 'revoked.json')] },
        mediatorCaBundleFile: tiers.mediator!.cert,
        executorCa: { certFile: tiers.executor!.cert, keyFile: tiers.executor!.key },
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
    const hostKeyPath = join(dirs.keys, 'ssh_host_ed25519_key');
    writeFileSync(
      mediatorConfig,
      JSON.stringify({
        listen: '127.0.0.1:0',
        hostKeyFile: hostKeyPath,
        policyFile: policyPath,
        sshUserCaKeysFile: `${sshCaPath}.pub`,
        revocation: { denyListFiles: [join(dirs.keys, 'revoked.json')] },
        mediatorCa: { certFile: tiers.mediator!.cert, keyFile: tiers.mediator!.key },
        executor: { address: `127.0.0.1:${executorPort}`, caBundleFile: tiers.executor!.cert },
        audit: {
          path: join(dirs.audit, 'mediator.jsonl'),
          signingKeyFile: join(dirs.keys, 'mediator-audit.key'),
        },
        ops: { listen: '127.0.0.1:0' },
        recordings: { dir: join(dirs.audit, 'recordings') },
        drainSeconds: 5,
      }),
    );
    // The mediator gets no Kubernetes credential: not even the environment that points at one.
    const mediatorEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('KUBE')),
    );
    const mediator = group.start(
      'mediator',
      node,
      [join(dist, 'mediator', 'main.js'), '--config', mediatorConfig],
      join(stateDir, 'mediator.log'),
      mediatorEnv,
    );
    const mediatorReady = await waitForReady(mediator, 'mediator', group.watchForCrash());
    const sshPort = Number(mediatorReady.port);
    const hostKeyLine = loadOrCreateHostKey(hostKeyPath).publicKeyLine;
    const knownHostsPath = join(stateDir, 'known_hosts');
    writeFileSync(knownHostsPath, `[127.0.0.1]:${sshPort} ${hostKeyLine}\n`);

    onProgress('issuing demo certificates (the broker does this outside dev)');
    const users: DevStack['users'] = {};
    const demo = [
      {
        user: 'oncall',
        profile: 'oncall-debug',
        namespace: DEMO_NAMESPACE,
        pods: ['payments-*'],
        groups: [`jit:oncall:${DEMO_NAMESPACE}`],
      },
      {
        user: 'reader',
        profile: 'cluster-read',
        namespace: DEMO_NAMESPACE,
        pods: ['*'],
        groups: [`jit:cluster-read:${DEV_CLUSTER}`],
      },
    ];
    for (const d of demo) {
      const keyPath = join(dirs.users, d.user, 'id_ed25519');
      mkdirSync(join(dirs.users, d.user), { recursive: true, mode: 0o700 });
      if (!existsSync(keyPath)) {
        const made = spawnSync('ssh-keygen', [
          '-q',
          '-t',
          'ed25519',
          '-N',
          '',
          '-C',
          `${d.user}@airlock-dev`,
          '-f',
          keyPath,
        ]);
        if (made.status !== 0)
          throw new AirlockError('CLUSTER_START_FAILED', 'ssh-keygen is required for the demo users');
      }
      const signed = signUserCertificate({
        caPrivateKey: sshCa,
        publicKey: parsePublicKeyLine(readFileSync(`${keyPath}.pub`, 'utf8')).key,
        keyId: `${d.user}@dev-demo`,
        principals: [d.user],
        validAfter: new Date(now.getTime() - 60_000),
        validBefore: new Date(now.getTime() + 3600_000),
        extensions: { 'permit-port-forwarding': '' },
        scope: {
          cluster: DEV_CLUSTER,
          namespace: d.namespace,
          podPatterns: d.pods,
          profile: d.profile,
          requestId: `dev-${d.user}`,
          groups: d.groups,
        },
      });
      const certPath = `${keyPath}-cert.pub`;
      writeFileSync(certPath, `${signed.line}\n`);
      users[d.user] = { keyPath, certPath };
    }
    const sshCommand = `ssh -p ${sshPort} -i ${users.oncall!.keyPath} -o UserKnownHostsFile=${knownHostsPath} oncall@127.0.0.1`;
    return {
      cluster,
      stateDir,
      sshPort,
      executorPort,
      opsPorts: { executor: Number(executorReady.ops), mediator: Number(mediatorReady.ops) },
      knownHostsPath,
      users,
      sshCommand,
      pids: [...cluster.pids, ...group.processes.map((p) => p.pid)],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
