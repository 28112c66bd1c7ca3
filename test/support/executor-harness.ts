import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import { type AuditTrail, InMemoryAuditTrail } from '../../services/core/audit/index.js';
import type { AirlockError } from '../../services/core/errors.js';

import { createKubeCsrSigner } from '../../services/core/kube/kube-csr.js';
import { createLogger, type LogLevel } from '../../services/core/observability/logging.js';
import { loadPolicy, type Policy } from '../../services/core/policy/index.js';

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

export { executorKubeConfig, shippedCsrModeRules } from './executor-rbac.js';

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
