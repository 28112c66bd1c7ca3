/**
 * The demo users of the dev stack: their SSH keys, the on-call user's
 * certificate issued through the broker as a person gets one, and the
 * OpenSSH client config the walkthrough uses.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import type { BrokerClientIo } from '../commands/broker-client-io.js';
import { runCert } from '../commands/cert-command.js';
import { runLogin } from '../commands/login.js';
import { runRequest } from '../commands/request-commands.js';
import { DEMO_NAMESPACE, DEV_CLUSTER, INCIDENT_BOT_SA } from './dev-identities.js';
import type { DevOidcProvider } from './dev-oidc-provider.js';

/** A demo user's SSH key and where its certificate goes. */
export type DemoUsers = Record<string, { keyPath: string; certPath: string }>;

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

/** An ed25519 key (ssh-keygen) for each demo user under `usersDir`, made on the first run. */
export function createDemoUserKeys(usersDir: string, names: readonly string[]): DemoUsers {
  const users: DemoUsers = {};
  for (const user of names) {
    const keyPath = join(usersDir, user, 'id_ed25519');
    mkdirSync(join(usersDir, user), { recursive: true, mode: 0o700 });
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
  return users;
}

/**
 * Writes the OpenSSH client config of the walkthrough: `Host airlock` (the
 * on-call user) and `Host airlock-runbook` (the runbook ServiceAccount's own
 * key and certificate).
 */
export function writeSshConfig(
  path: string,
  target: { sshPort: number; knownHostsPath: string; usersDir: string },
  oncall: { keyPath: string; certPath: string },
): void {
  const { sshPort, knownHostsPath, usersDir } = target;
  writeFileSync(
    path,
    [
      '# Written by airlock dev up: ssh -F THIS_FILE airlock pods',
      'Host airlock',
      '  HostName 127.0.0.1',
      `  Port ${sshPort}`,
      '  User oncall',
      `  IdentityFile ${oncall.keyPath}`,
      `  CertificateFile ${oncall.certPath}`,
      `  UserKnownHostsFile ${knownHostsPath}`,
      '  StrictHostKeyChecking yes',
      '  IdentitiesOnly yes',
      '',
      // The walkthrough's runbook: the ServiceAccount's own key and certificate, nothing of oncall's.
      'Host airlock-runbook',
      '  HostName 127.0.0.1',
      `  Port ${sshPort}`,
      `  User system:serviceaccount:${INCIDENT_BOT_SA.namespace}:${INCIDENT_BOT_SA.name}`,
      `  IdentityFile ${join(usersDir, INCIDENT_BOT_SA.name, 'id_ed25519')}`,
      `  CertificateFile ${join(usersDir, INCIDENT_BOT_SA.name, 'id_ed25519-cert.pub')}`,
      `  UserKnownHostsFile ${knownHostsPath}`,
      '  StrictHostKeyChecking yes',
      '  IdentitiesOnly yes',
      '',
    ].join('\n'),
  );
}
