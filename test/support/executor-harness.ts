import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import { type AuditTrail, InMemoryAuditTrail } from '../../services/core/audit/index.js';
import type { AirlockError } from '../../services/core/errors.js';
import { createKubeCsrSigner } from '../../services/core/kube/kube-csr.js';
import { createLogger, type LogLevel } from '../../services/core/observability/logging.js';
import {
  executorClusterRoleRules,
  loadPolicy,
  type Policy,
  type RbacRule,
} from '../../services/core/policy/index.js';
import { repoRoot } from '../../services/core/repo/repo-root.js';
import { type CallOptions, ExecutorClient } from '../../services/core/rpc/executor-client.js';
import { fromGrpcError } from '../../services/core/rpc/grpc-errors.js';
import type { ExecStart, OpenSessionRequest } from '../../services/core/rpc/messages.js';
import { sessionBindingDigest } from '../../services/core/session/session-binding.js';
import {
  type AirlockScope,
  encodeUserauthRequest,
  fromKeyObject,
  generateCaKey,
  type RevocationList,
  type SshPrivateKey,
  type SshPublicKey,
  signSshData,
  signUserCertificate,
  verifyCertificateWithoutSession,
} from '../../services/core/ssh-cert/index.js';
import { createTierCa, issueSessionGrant, type TierCa } from '../../services/core/x509/index.js';
import { createExecutorService } from '../../services/executor/executor-service.js';
import {
  createCsrCredentials,
  createImpersonationCredentials,
  type KubeCredentialMode,
} from '../../services/executor/kube-credentials.js';
import { createKubeGateway } from '../../services/executor/kube-gateway.js';
import { type RunningExecutorServer, startExecutorServer } from '../../services/executor/server.js';
import { UsedSignatures } from '../../services/executor/used-signatures.js';
import { adminKubeConfig, clusterInfo } from './kube.js';

export const CLUSTER_NAME = 'hermetic';

/** A test policy: profile `debug` over one namespace, with a few exact commands. */
export function testPolicy(namespaces: string[], extra: Record<string, unknown> = {}): Policy {
  return loadPolicy({
    version: 1,
    limits: { maxTtlSeconds: 28_800 },
    profiles: {
      debug: {
        groups: ['jit:debug:{namespace}'],
        requesterGroups: ['oncall'],
        maxTtlSeconds: 3600,
        scope: { clusters: [CLUSTER_NAME], namespaces, pods: ['api-*'] },
        actions: {
          list: { resources: ['pods', 'events'] },
          get: { resources: ['pods', 'events'] },
          logs: {},
          exec: {},
          shell: { argv: [['sh']] },
          'port-forward': { ports: [8080] },
          debug: { images: ['busybox:1.36'] },
        },
        commands: {
          matchBasename: false,
          allow: [
            { id: 'echo', argv: ['echo', '...'] },
            { id: 'exit-7', argv: ['sh', '-c', 'exit 7'] },
            { id: 'cat', argv: ['cat'] },
            { id: 'sleep', argv: ['sleep', '*'] },
            { id: 'head', argv: ['head', '-c', '*', '/dev/zero'] },
            { id: 'wc', argv: ['wc', '-c'] },
            { id: 'sha256sum', argv: ['sha256sum'] },
          ],
          deny: [{ id: 'no-secrets', argv: ['cat', '/var/run/secrets/*'] }],
        },
        approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 3600 } },
      },
      ...extra,
    },
  });
}

/** The rules of the shipped csr-mode ClusterRole (deploy/components/executor-csr), as they are. */
export function shippedCsrModeRules(): V1PolicyRule[] {
  const file = join(repoRoot(), 'deploy', 'components', 'executor-csr', 'executor-csr-rbac.yaml');
  const role = (loadAllYaml(readFileSync(file, 'utf8')) as { kind: string }[]).find(
    (o): o is V1ClusterRole & { kind: string } => o.kind === 'ClusterRole',
  );
  if (!role?.rules) throw new Error(`no ClusterRole in ${file}`);
  return role.rules;
}

/** What the test `jit:` groups may do in each namespace (the `jit-debug` Role). */
const JIT_DEBUG_RULES: V1PolicyRule[] = [
  { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods/exec', 'pods/portforward'], verbs: ['create', 'get'] },
  { apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['update', 'patch'] },
];

/**
 * The executor's own rights in each credentials mode (`none`: nothing at
 * all). Impersonation mode uses the rendered ClusterRole's rules
 * (`executorClusterRoleRules`, constrained impersonation by default) for the
 * groups' `jit-debug` rights, so every executor test runs with the narrowed role.
 */
function executorRules(
  mode: KubeCredentialMode | 'none',
  groups: string[],
  extraActions: readonly RbacRule[],
): V1PolicyRule[] {
  if (mode === 'none') return [];
  if (mode === 'csr') return shippedCsrModeRules();
  const actions = [
    ...JIT_DEBUG_RULES.map((r) => ({ apiGroups: r.apiGroups!, resources: r.resources!, verbs: r.verbs })),
    ...extraActions,
  ];
  return executorClusterRoleRules(groups, actions).map((r) => ({ ...r }) as V1PolicyRule);
}

/**
 * The executor's own Kubernetes identity for tests: a ServiceAccount that
 * (impersonation mode) may impersonate only `airlock:session`, the given jit:
 * groups and the airlock extras, or (csr mode) holds exactly the shipped
 * csr-mode ClusterRole and no impersonation; plus Roles granting those groups
 * pod access in `namespaces`.
 */
export async function executorKubeConfig(
  suffix: string,
  groups: string[],
  rbacNamespaces: string[],
  mode: KubeCredentialMode | 'none' = 'impersonation',
  /**
   * Rights a test grants its groups beyond `jit-debug` (its own Roles): the
   * executor may then act on them while impersonating (constrained mode).
   */
  extraActions: readonly RbacRule[] = [],
): Promise<KubeConfig> {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const namespace = rbacNamespaces[0]!;
  const sa = `airlock-executor-${suffix}`;
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } });
  await rbac.createClusterRole({
    body: { metadata: { name: sa }, rules: executorRules(mode, groups, extraActions) },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: sa },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  });
  for (const ns of rbacNamespaces) {
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'jit-debug' }, rules: JIT_DEBUG_RULES },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'jit-debug' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jit-debug' },
        subjects: groups.map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
      },
    });
  }
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name: sa,
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'hermetic', server: clusterInfo().server, caFile: clusterInfo().caCertPath }],
    users: [{ name: sa, token: token.status?.token }],
    contexts: [{ name: 'executor', cluster: 'hermetic', user: sa }],
    currentContext: 'executor',
  });
  return kc;
}

export interface UserKey {
  privateKey: KeyObject;
  publicKey: SshPublicKey;
}

export function newUserKey(): UserKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: fromKeyObject(privateKey) };
}

export interface Gateway<Audit extends AuditTrail = InMemoryAuditTrail> {
  sshCa: SshPrivateKey;
  mediatorCa: TierCa;
  executorCa: TierCa;
  audit: Audit;
  server: RunningExecutorServer;
  revoked: RevocationList[];
  stop(): Promise<void>;
}

/**
 * Starts an in-process executor on 127.0.0.1 with real mTLS and the given
 * Kubernetes identity, making sessions' Kubernetes credentials in `mode`;
 * `tracer` receives its spans (default: the global tracer).
 */
export async function startGateway(
  policy: Policy,
  kubeConfig: KubeConfig,
  tracer?: Tracer,
  mode: KubeCredentialMode = 'impersonation',
  options: { maxSessionsPerUser?: number } = {},
): Promise<Gateway> {
  return startGatewayWithTrail(new InMemoryAuditTrail('executor'), policy, kubeConfig, tracer, mode, options);
}

/** `startGateway` with the executor writing to `audit` (a file trail, say, in the off-pod ack mode). */
export async function startGatewayWithTrail<Audit extends AuditTrail>(
  audit: Audit,
  policy: Policy,
  kubeConfig: KubeConfig,
  tracer?: Tracer,
  mode: KubeCredentialMode = 'impersonation',
  options: { maxSessionsPerUser?: number } = {},
): Promise<Gateway<Audit>> {
  const sshCa = generateCaKey('ed25519');
  const now = new Date();
  const mediatorCa = await createTierCa({ tier: 'mediator', now });
  const executorCa = await createTierCa({ tier: 'executor', now });
  const revoked: RevocationList[] = [];
  const logger = createLogger({
    tier: 'executor',
    level: (process.env.AIRLOCK_TEST_LOG as LogLevel | undefined) ?? 'silent',
  });
  const service = createExecutorService({
    cluster: CLUSTER_NAME,
    policy: () => policy,
    trustedSshCas: () => [sshCa.publicKey],
    revocation: () => revoked,
    mediatorCas: () => [mediatorCa.certPem],
    kube: createKubeGateway(),
    kubeCredentials:
      mode === 'csr'
        ? createCsrCredentials({
            kubeConfig,
            signer: createKubeCsrSigner(kubeConfig, { timeoutMs: 20_000 }),
            clock: () => new Date(),
            logger,
          })
        : createImpersonationCredentials(kubeConfig),
    audit,
    logger,
    clock: () => new Date(),
    // Complete since the epoch: the test certificates are backdated by a minute.
    usedSignatures: new UsedSignatures({ clock: () => new Date(), since: new Date(0) }),
    // Test files open many sessions for one user without closing them; the limit is tested on its own.
    maxSessionsPerUser: options.maxSessionsPerUser ?? 1000,
    ...(tracer ? { tracer } : {}),
  });
  const server = await startExecutorServer(service, {
    listen: '127.0.0.1:0',
    executorCa,
    mediatorCaBundle: mediatorCa.certPem,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    logger,
    clock: () => new Date(),
  });
  return { sshCa, mediatorCa, executorCa, audit, server, revoked, stop: () => server.stop(1000) };
}

export interface SessionOptions {
  scope: AirlockScope;
  principal?: string;
  validSeconds?: number;
  /** Sign the certificate with this CA instead of the gateway's. */
  caKey?: SshPrivateKey;
  /** Issue the grant from this CA instead of the gateway's mediator CA. */
  grantCa?: TierCa;
  /** Put another session id in the grant than the one used on the wire. */
  grantSessionId?: string;
  /** Grant scope digest override (to simulate a widened scope). */
  grantScopeDigest?: string;
  /** Certificate extensions; default permit-pty and permit-port-forwarding. */
  extensions?: Record<string, string>;
  criticalOptions?: Record<string, string>;
}

export interface TestSession {
  id: string;
  client: ExecutorClient;
  /** The session grant (mTLS client certificate) the client presents. */
  grant: { certPem: string; keyPem: string };
  request: OpenSessionRequest;
  serial: bigint;
}

/**
 * What a mediator does for one SSH session: an SSH certificate for a fresh
 * user key, the user's signature over session data, a session grant bound to
 * the certificate, and an mTLS client presenting that grant.
 */
export async function newSession(
  gateway: Gateway<AuditTrail>,
  options: SessionOptions,
): Promise<TestSession> {
  const principal = options.principal ?? 'alice';
  const user = newUserKey();
  const now = new Date();
  const signed = signUserCertificate({
    caPrivateKey: options.caKey ?? gateway.sshCa,
    publicKey: user.publicKey,
    keyId: `${principal}@test`,
    principals: [principal],
    validAfter: new Date(now.getTime() - 60_000),
    validBefore: new Date(now.getTime() + (options.validSeconds ?? 600) * 1000),
    extensions: options.extensions ?? { 'permit-pty': '', 'permit-port-forwarding': '' },
    ...(options.criticalOptions ? { criticalOptions: options.criticalOptions } : {}),
    scope: options.scope,
  });
  const identity = verifyCertificateWithoutSession(signed.blob, {
    trustedCAs: [(options.caKey ?? gateway.sshCa).publicKey],
    principal,
    now,
  });
  const id = randomBytes(8).toString('hex');
  const grant = await issueSessionGrant(options.grantCa ?? gateway.mediatorCa, {
    sessionId: options.grantSessionId ?? id,
    user: principal,
    scopeDigest: options.grantScopeDigest ?? sessionBindingDigest(identity),
    notAfter: new Date(now.getTime() + (options.validSeconds ?? 600) * 1000),
    now,
  });
  // What an SSH client signs to log in (RFC 4252 §7), on a connection of its own.
  const signedData = Buffer.from(
    encodeUserauthRequest({
      sessionId: randomBytes(32),
      user: principal,
      algorithm: 'ssh-ed25519-cert-v01@openssh.com',
      keyBlob: signed.blob,
    }),
  );
  const client = new ExecutorClient({
    address: `127.0.0.1:${gateway.server.port}`,
    executorCaPem: gateway.executorCa.certPem,
    grantCertPem: grant.certPem,
    grantKeyPem: grant.privateKeyPem!,
    sessionId: id,
  });
  return {
    id,
    client,
    grant: { certPem: grant.certPem, keyPem: grant.privateKeyPem! },
    serial: signed.serial,
    request: {
      ssh_certificate: Buffer.from(signed.blob),
      auth_signature: Buffer.from(signSshData(user.publicKey, user.privateKey, signedData)),
      auth_signed_data: signedData,
      client_address: '127.0.0.1',
      session_id: id,
      principal,
    },
  };
}

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exit?: { code: number; signal: string };
  error?: AirlockError;
}

/** Runs one Exec stream on an opened session to its end: start frame, optional stdin, then EOF. */
export function runExec(
  client: ExecutorClient,
  start: Partial<ExecStart> & { argv: string[] },
  stdin?: Buffer,
  options?: CallOptions,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const call = client.exec(options);
    const out: Buffer[] = [];
    let stderr = '';
    let exit: ExecResult['exit'];
    call.on(
      'data',
      (frame: { stdout?: Buffer; stderr?: Buffer; exit?: { code: number; signal: string } }) => {
        if (frame.stdout) out.push(frame.stdout);
        if (frame.stderr) stderr += frame.stderr.toString();
        if (frame.exit) exit = frame.exit;
      },
    );
    call.on('error', (error) =>
      resolve({ stdout: Buffer.concat(out), stderr, exit, error: fromGrpcError(error) }),
    );
    call.on('end', () => resolve({ stdout: Buffer.concat(out), stderr, exit }));
    call.write({ start: { target: null, tty: false, size: null, shell: false, ...start } });
    if (stdin) call.write({ stdin });
    call.write({ stdin_eof: true });
  });
}
