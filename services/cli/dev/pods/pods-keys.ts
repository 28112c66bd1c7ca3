import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaKind } from '../../../core/ca-keyring/keyring.js';
import { AirlockError } from '../../../core/errors.js';
import { loadOrCreateHostKey } from '../../../core/ssh-cert/host-key.js';
import { createTierCa } from '../../../core/x509/index.js';
import { ensureKeyring } from '../dev-stack.js';

export interface TierKeyFiles {
  caDirs: Readonly<Record<CaKind, string>>;
  brokerCa: { cert: string; key: string };
  auditKeys: Record<string, string>;
  hostKeyPath: string;
  hostKeyLine: string;
}

/**
 * The keys deploy/'s Secrets hold, made once in `dir` and reused by the next
 * run: the three rotating CA keyrings, the broker CA, an audit signing key
 * per tier (with its public key beside it) and the mediator's host key.
 */
export async function ensureTierKeys(dir: string, now: Date): Promise<TierKeyFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caDirs: TierKeyFiles['caDirs'] = {
    'ssh-user': join(dir, 'ca', 'ssh-user'),
    mediator: join(dir, 'ca', 'mediator'),
    executor: join(dir, 'ca', 'executor'),
  };
  for (const ca of ['ssh-user', 'mediator', 'executor'] as const) {
    await ensureKeyring(caDirs[ca], ca, { keyFile: join(dir, `${ca}-ca.key`) }, now);
  }
  const brokerCa = { cert: join(dir, 'broker-ca.pem'), key: join(dir, 'broker-ca.key') };
  if (!existsSync(brokerCa.cert)) {
    const ca = await createTierCa({ tier: 'broker', now });
    writeFileSync(brokerCa.cert, ca.certPem);
    writeFileSync(brokerCa.key, ca.privateKeyPem, { mode: 0o600 });
  }
  const auditKeys: Record<string, string> = {};
  for (const tier of ['broker', 'mediator', 'executor']) {
    const path = join(dir, `${tier}-audit.key`);
    auditKeys[tier] = path;
    if (existsSync(path)) continue;
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    writeFileSync(
      join(dir, `${tier}-audit.pub`),
      createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    );
  }
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  return {
    caDirs,
    brokerCa,
    auditKeys,
    hostKeyPath,
    hostKeyLine: loadOrCreateHostKey(hostKeyPath).publicKeyLine,
  };
}

/** The demo users' SSH keys (oncall, lead), made once with ssh-keygen. */
export function ensureDemoUsers(dir: string): Record<string, { keyPath: string; certPath: string }> {
  const users: Record<string, { keyPath: string; certPath: string }> = {};
  for (const user of ['oncall', 'lead']) {
    const keyPath = join(dir, user, 'id_ed25519');
    mkdirSync(join(dir, user), { recursive: true, mode: 0o700 });
    if (!existsSync(keyPath)) {
      const args = ['-q', '-t', 'ed25519', '-N', '', '-C', `${user}@airlock-dev`, '-f', keyPath];
      if (spawnSync('ssh-keygen', args).status !== 0) {
        throw new AirlockError('CLUSTER_START_FAILED', 'ssh-keygen is required for the demo users');
      }
    }
    users[user] = { keyPath, certPath: `${keyPath}-cert.pub` };
  }
  return users;
}

/** `STATE/ssh_config`: `Host airlock` on the loopback relay, with the user's key, certificate and known_hosts. */
export function writeSshConfig(
  stateDir: string,
  port: number,
  user: { keyPath: string; certPath: string },
  knownHostsPath: string,
): string {
  const path = join(stateDir, 'ssh_config');
  writeFileSync(
    path,
    [
      '# Written by airlock dev up --pods: ssh -F THIS_FILE airlock pods',
      'Host airlock',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User oncall',
      `  IdentityFile ${user.keyPath}`,
      `  CertificateFile ${user.certPath}`,
      `  UserKnownHostsFile ${knownHostsPath}`,
      '  StrictHostKeyChecking yes',
      '  IdentitiesOnly yes',
      '',
    ].join('\n'),
  );
  return path;
}
