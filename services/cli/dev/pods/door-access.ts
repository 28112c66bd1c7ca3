/**
 * How a person of the ephemeral-mode pods stack gets access, with the CLI's
 * own client code (only its terminal is replaced): `airlock login` (device
 * flow; the person approves the code at the dev provider), `airlock request`
 * (auto-approved: the broker launches the request's pods before it answers),
 * `airlock cert --door` (the certificate, and the ssh_config entry and
 * known_hosts that reach the request's mediator through the door). Then
 * stock OpenSSH: `ssh -F <sshConfig> <request id> <command>`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../../core/errors.js';
import type { BrokerClientIo } from '../../commands/broker-client-io.js';
import { runCert } from '../../commands/cert-command.js';
import { runLogin } from '../../commands/login.js';
import { runRequest } from '../../commands/request-commands.js';
import type { DevOidcProvider } from '../dev-oidc-provider.js';

/** What a person asks for. */
export interface DoorRequest {
  profile: string;
  namespace: string;
  pods: string[];
  /** `airlock request --ttl`, e.g. `3m`. */
  ttl: string;
}

/** One approved request, reachable through the door. */
export interface DoorAccess {
  requestId: string;
  /** The entry `airlock cert --door` wrote (`Host <request id>`, ProxyJump to the door). */
  entryPath: string;
  /** Includes the entry and says how to check the door's own host key: `ssh -F THIS <request id> …`. */
  sshConfig: string;
  /** When `airlock request` was sent, and when the broker answered approved (its pods created). */
  requestedAt: number;
  approvedAt: number;
  accessExpiresAt: string;
  /** The person's airlock config dir (token, entries): AIRLOCK_CONFIG_DIR for `airlock revoke`. */
  configDir: string;
}

/** Where the stack is: broker and door relays, the person's key. */
export interface DoorAccessTarget {
  brokerUrl: string;
  brokerCaPath: string;
  oidc: DevOidcProvider;
  doorPort: number;
  doorKnownHostsPath: string;
  stateDir: string;
}

function clientIo(
  oidc: DevOidcProvider,
  user: string,
  configDir: string,
  sink: { out: string },
): BrokerClientIo {
  return {
    out: (text) => {
      sink.out += text;
    },
    err: (text) => {
      const code = /enter the code (\S+)/.exec(text)?.[1];
      if (code !== undefined) oidc.approveDeviceCode(code, user);
    },
    configDir,
    homeDir: configDir,
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

/** Login, request (must be auto-approved and launched), cert --door; writes the ssh_config to use. */
export async function requestThroughDoor(
  target: DoorAccessTarget,
  user: { name: string; keyPath: string },
  request: DoorRequest,
): Promise<DoorAccess> {
  const configDir = join(target.stateDir, 'users', user.name, 'airlock');
  const sink = { out: '' };
  const io = clientIo(target.oidc, user.name, configDir, sink);
  const broker = { broker: target.brokerUrl, ca: target.brokerCaPath };
  await runLogin(broker, io);
  sink.out = '';
  const requestedAt = Date.now();
  await runRequest(
    {
      ...broker,
      profile: request.profile,
      cluster: 'dev',
      namespace: request.namespace,
      pod: request.pods,
      ttl: request.ttl,
      reason: `INC-0000 ephemeral pods test: ${user.name} in ${request.namespace}`,
      key: `${user.keyPath}.pub`,
      json: true,
    },
    io,
  );
  const approvedAt = Date.now();
  const created = JSON.parse(sink.out) as {
    id: string;
    status: string;
    accessExpiresAt?: string;
    launch?: { status: string; reason?: string };
  };
  if (created.status !== 'approved' || created.launch?.status === 'failed') {
    throw new AirlockError(
      'CLUSTER_START_FAILED',
      `request ${created.id} of ${user.name}: ${created.status}, launch ${JSON.stringify(created.launch)}`,
    );
  }
  await runCert(
    created.id,
    { ...broker, key: `${user.keyPath}.pub`, door: `127.0.0.1:${target.doorPort}` },
    io,
  );
  const entryPath = join(configDir, 'ssh', `${created.id}.conf`);
  const sshConfig = join(configDir, 'ssh', `${created.id}.with-door-known-hosts`);
  // The entry leaves the door's host key to the person's own known_hosts; here that is the stack's file.
  writeFileSync(
    sshConfig,
    [
      `Include ${entryPath}`,
      'Host airlock-door-*',
      `  UserKnownHostsFile ${target.doorKnownHostsPath}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      'Host *',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  return {
    requestId: created.id,
    entryPath,
    sshConfig,
    requestedAt,
    approvedAt,
    accessExpiresAt: created.accessExpiresAt ?? '',
    configDir,
  };
}
