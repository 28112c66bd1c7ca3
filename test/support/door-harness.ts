import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryAuditTrail } from '../../services/core/audit/index.js';
import { createLogger, type LogLevel } from '../../services/core/observability/logging.js';
import type { Policy } from '../../services/core/policy/index.js';
import { loadOrCreateHostKey } from '../../services/core/ssh-cert/host-key.js';
import {
  createDoor,
  DEFAULT_DOOR_LIMITS,
  type Door,
  type DoorLimits,
} from '../../services/mediator/door/door-server.js';
import type { MediatorResolver } from '../../services/mediator/door/mediator-resolver.js';
import type { Gateway } from './executor-harness.js';
import type { Mediator, SshResult, SshUser } from './mediator-harness.js';

export interface RunningDoor {
  port: number;
  door: Door;
  audit: InMemoryAuditTrail;
  /** `[127.0.0.1]:port ssh-ed25519 …`, for a known_hosts file. */
  knownHostsLine: string;
  stop(): Promise<void>;
}

/** Starts an in-process door on 127.0.0.1 that trusts the gateway's SSH CA and revocation lists. */
export async function startDoor(
  gateway: Gateway,
  policy: Policy,
  resolver: MediatorResolver,
  limits: Partial<DoorLimits> = {},
): Promise<RunningDoor> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-door-'));
  const hostKey = loadOrCreateHostKey(join(dir, 'host_ed25519'));
  const audit = new InMemoryAuditTrail('door');
  const door = createDoor({
    hostKey,
    trustedSshCas: () => [gateway.sshCa.publicKey],
    revocation: () => gateway.revoked,
    policy: () => policy,
    resolver,
    audit,
    logger: createLogger({
      tier: 'door',
      level: (process.env.AIRLOCK_TEST_LOG as LogLevel | undefined) ?? 'silent',
    }),
    clock: () => new Date(),
    limits: { ...DEFAULT_DOOR_LIMITS, ...limits },
  });
  const port = await door.listen(0, '127.0.0.1');
  return {
    port,
    door,
    audit,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey.publicKeyLine}`,
    stop: () => door.stop(),
  };
}

/**
 * An ssh_config for the stock client: `door` is the jump door, every
 * `req-*` host is reached through it (ProxyJump), each mediator's host key
 * pinned under its request id. The jump's own ssh process reads the same
 * file (ssh passes `-F` on), so both hops use the user's certificate.
 */
export function doorSshConfig(
  door: RunningDoor,
  user: SshUser,
  mediators: Record<string, Mediator>,
  login = 'alice',
): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-door-client-'));
  const knownHosts = join(dir, 'known_hosts');
  const pinned = Object.entries(mediators).map(([requestId, mediator]) => {
    const line = readFileSync(mediator.knownHosts, 'utf8').trim();
    return `${requestId} ${line.slice(line.indexOf(' ') + 1)}`;
  });
  writeFileSync(knownHosts, `${[door.knownHostsLine, ...pinned].join('\n')}\n`);
  const config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    [
      'Host door',
      '  HostName 127.0.0.1',
      `  Port ${door.port}`,
      'Host req-*',
      '  ProxyJump door',
      'Host *',
      `  User ${login}`,
      `  IdentityFile ${user.keyPath}`,
      `  CertificateFile ${user.certPath}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  ConnectTimeout 10',
      '',
    ].join('\n'),
  );
  return config;
}

/** The stock OpenSSH client with that config: `ssh -F config [options…] host command…`. */
export function sshWithConfig(
  config: string,
  host: string,
  command: string[],
  timeoutMs = 60_000,
  options: string[] = [],
): Promise<SshResult> {
  return new Promise((resolve) => {
    const child = spawn('ssh', ['-F', config, ...options, host, ...command], {
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
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end('');
  });
}
