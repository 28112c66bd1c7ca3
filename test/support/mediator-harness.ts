import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tracer } from '@opentelemetry/api';
import { InMemoryAuditTrail } from '../../services/core/audit/index.js';
import { createLogger, type LogLevel } from '../../services/core/observability/logging.js';
import type { Policy } from '../../services/core/policy/index.js';
import { type HostKey, loadOrCreateHostKey } from '../../services/core/ssh-cert/host-key.js';
import {
  type AirlockScope,
  parsePublicKeyLine,
  type SshPrivateKey,
  signUserCertificate,
} from '../../services/core/ssh-cert/index.js';
import {
  createSshFrontend,
  DEFAULT_LIMITS,
  type MediatorDeps,
  type MediatorLimits,
  type SshFrontend,
} from '../../services/mediator/ssh-frontend.js';
import {
  CLUSTER_NAME,
  executorKubeConfig,
  type Gateway,
  startGateway,
  testPolicy,
} from './executor-harness.js';
import { adminKubeConfig, createNamespace, createRunningPod, uniqueName } from './kube.js';

export interface Mediator {
  port: number;
  frontend: SshFrontend;
  audit: InMemoryAuditTrail;
  knownHosts: string;
  recordingsDir: string;
  stop(): Promise<void>;
}

/**
 * Starts an in-process mediator in front of a running executor; `tracer`
 * receives its spans. `hostKey`: the host key (and certificate) to present;
 * default a new one. `requestId`: pinned to that request, as an ephemeral
 * mediator is (config `requestId`).
 */
export async function startMediator(
  gateway: Gateway,
  policy: Policy,
  limits: Partial<MediatorLimits> = {},
  tracer?: Tracer,
  executor: Partial<MediatorDeps['executor']> = {},
  presentedHostKey?: HostKey,
  requestId?: string,
): Promise<Mediator> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-mediator-'));
  const hostKey = presentedHostKey ?? loadOrCreateHostKey(join(dir, 'host_ed25519'));
  const audit = new InMemoryAuditTrail('mediator');
  const frontend = createSshFrontend({
    hostKey,
    trustedSshCas: () => [gateway.sshCa.publicKey],
    revocation: () => gateway.revoked,
    policy: () => policy,
    ...(requestId === undefined ? {} : { requestId }),
    mediatorCa: async () => gateway.mediatorCa,
    executor: {
      address: `127.0.0.1:${gateway.server.port}`,
      caPem: () => gateway.executorCa.certPem,
      ...executor,
    },
    audit,
    logger: createLogger({
      tier: 'mediator',
      level: (process.env.AIRLOCK_TEST_LOG as LogLevel | undefined) ?? 'silent',
    }),
    clock: () => new Date(),
    limits: { ...DEFAULT_LIMITS, ...limits },
    recordings: { dir: join(dir, 'recordings'), recordInput: false },
    ...(tracer ? { tracer } : {}),
  });
  const port = await frontend.listen(0, '127.0.0.1');
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey.publicKeyLine}\n`);
  return {
    port,
    frontend,
    audit,
    knownHosts,
    recordingsDir: join(dir, 'recordings'),
    stop: () => frontend.stop(0),
  };
}

export interface SshUser {
  keyPath: string;
  certPath: string;
  serial: bigint;
}

/** An ed25519 key made by ssh-keygen and a certificate for it from `caKey`. */
export function sshUser(
  caKey: SshPrivateKey,
  options: {
    principal?: string;
    scope: AirlockScope;
    /** Seconds from now, or `forever` (`ssh-keygen -V always:forever`'s end). */
    validSeconds?: number | 'forever';
    validFromSeconds?: number;
    extensions?: Record<string, string>;
    criticalOptions?: Record<string, string>;
  },
): SshUser {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-user-'));
  const keyPath = join(dir, 'id_ed25519');
  const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
  const publicKey = parsePublicKeyLine(readFileSync(`${keyPath}.pub`, 'utf8')).key;
  const now = Date.now();
  const signed = signUserCertificate({
    caPrivateKey: caKey,
    publicKey,
    keyId: `${options.principal ?? 'alice'}@e2e`,
    principals: [options.principal ?? 'alice'],
    validAfter: new Date(now + (options.validFromSeconds ?? -60) * 1000),
    validBefore:
      options.validSeconds === 'forever' ? 'forever' : new Date(now + (options.validSeconds ?? 600) * 1000),
    extensions: options.extensions ?? { 'permit-pty': '', 'permit-port-forwarding': '' },
    criticalOptions: options.criticalOptions,
    scope: options.scope,
  });
  const certPath = `${keyPath}-cert.pub`;
  writeFileSync(certPath, `${signed.line}\n`);
  return { keyPath, certPath, serial: signed.serial };
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The stock OpenSSH client against the mediator, with the host key pinned. */
export function sshArgs(
  mediator: Mediator,
  user: SshUser | undefined,
  extra: string[] = [],
  login = 'alice',
): string[] {
  return [
    '-F',
    '/dev/null',
    '-p',
    String(mediator.port),
    '-o',
    `UserKnownHostsFile=${mediator.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=10',
    ...(user
      ? ['-i', user.keyPath, '-o', `CertificateFile=${user.certPath}`]
      : ['-o', 'IdentityFile=/dev/null']),
    ...extra,
    `${login}@127.0.0.1`,
  ];
}

export function ssh(
  mediator: Mediator,
  user: SshUser | undefined,
  command: string[],
  options: { extra?: string[]; stdin?: string; login?: string; timeoutMs?: number } = {},
): Promise<SshResult> {
  return new Promise((resolve) => {
    const child = spawn('ssh', [...sshArgs(mediator, user, options.extra, options.login), ...command], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * One test file's own namespace `payments-<prefix>-…` with a running pod
 * `api-0` (container `main`), the test policy for it, and the `debug`
 * profile scope a certificate for it carries (`api-*` pods).
 */
export function debugTarget(prefix: string, requestId: string) {
  const suffix = uniqueName(prefix);
  const payments = `payments-${suffix}`;
  const scope: AirlockScope = {
    cluster: CLUSTER_NAME,
    namespace: payments,
    podPatterns: ['api-*'],
    profile: 'debug',
    requestId,
    groups: [],
  };
  return { suffix, payments, policy: testPolicy([payments]), scope };
}

/**
 * Creates the target's namespace and pod, then starts a gateway whose
 * executor may reach exactly that namespace and a mediator in front of it.
 */
export async function startDebugGateway(
  target: ReturnType<typeof debugTarget>,
): Promise<{ gateway: Gateway; mediator: Mediator }> {
  const admin = adminKubeConfig();
  await createNamespace(admin, target.payments);
  await createRunningPod(admin, target.payments, 'api-0', [{ name: 'main' }]);
  const gateway = await startGateway(
    target.policy,
    await executorKubeConfig(target.suffix, [`jit:debug:${target.payments}`], [target.payments]),
  );
  return { gateway, mediator: await startMediator(gateway, target.policy) };
}
