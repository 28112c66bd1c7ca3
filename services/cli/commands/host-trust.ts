/**
 * `airlock cert --host-ca`: trust in the mediator's host through the airlock
 * host CA instead of trust-on-first-use. Writes two airlock-managed files in
 * the config directory, never the user's own ~/.ssh files:
 *
 * - `known_hosts`: `@cert-authority <alias> <host CA key>` (sshd(8)
 *   SSH_KNOWN_HOSTS FILE FORMAT): ssh accepts a host whose certificate this
 *   CA signed for a principal equal to the name it checks;
 * - `ssh_config`: a `Host` block that points ssh at that file with
 *   `UserKnownHostsFile`, `StrictHostKeyChecking yes`, and `HostKeyAlias`,
 *   the name ssh checks the certificate's principals against (so every
 *   ephemeral mediator pod behind one name verifies the same way).
 *
 * The user includes the snippet from ~/.ssh/config (`Include`), once.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { formatPublicKeyLine, parsePublicKeyList, type SshPublicKey } from '../../core/ssh-cert/index.js';

/** What the Host block names. */
export interface HostTrustTarget {
  /** The `Host` of the block and the host name ssh connects to. */
  readonly sshHost: string;
  /** The name the mediator's host certificate lists as principal. */
  readonly hostAlias: string;
  readonly user: string;
  readonly identityFile: string;
  readonly certificateFile: string;
}

/** Paths of the airlock-managed files under the config directory. */
export function hostTrustPaths(configDir: string): { knownHosts: string; sshConfig: string } {
  return { knownHosts: join(configDir, 'known_hosts'), sshConfig: join(configDir, 'ssh_config') };
}

const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}$/;

function checkName(flag: string, name: string): void {
  // No pattern characters, spaces or commas: the name lands in known_hosts and ssh_config as is.
  if (!HOST_NAME.test(name))
    throw new AirlockError('USAGE', `${flag} ${JSON.stringify(name)} is not a host name`);
}

/** The known_hosts line that trusts `ca` for hosts named `hostAlias`. */
export function certAuthorityLine(hostAlias: string, ca: SshPublicKey): string {
  checkName('--host-alias', hostAlias);
  return `@cert-authority ${hostAlias} ${formatPublicKeyLine(ca, 'airlock-host-ca')}`;
}

/** An ssh_config value; quoted when it has spaces, refused when it cannot be quoted. */
function configValue(value: string): string {
  if (/["\n\r]/.test(value))
    throw new AirlockError('USAGE', `cannot write ${JSON.stringify(value)} to ssh_config`);
  return /\s/.test(value) ? `"${value}"` : value;
}

/** The ssh_config `Host` block for the gateway (ssh_config(5)). */
export function sshConfigBlock(target: HostTrustTarget, knownHostsPath: string): string {
  checkName('--ssh-host', target.sshHost);
  checkName('--host-alias', target.hostAlias);
  return [
    '# Written by `airlock cert --host-ca`; include it from ~/.ssh/config:',
    `#   Include ${configValue(knownHostsPath.replace(/known_hosts$/, 'ssh_config'))}`,
    `Host ${target.sshHost}`,
    `  User ${configValue(target.user)}`,
    `  IdentityFile ${configValue(target.identityFile)}`,
    `  CertificateFile ${configValue(target.certificateFile)}`,
    '  IdentitiesOnly yes',
    `  HostKeyAlias ${target.hostAlias}`,
    `  UserKnownHostsFile ${configValue(knownHostsPath)}`,
    '  StrictHostKeyChecking yes',
    '',
  ].join('\n');
}

/**
 * Reads the host CA public key file (`airlock ca init --kind host` wrote
 * it): one key, or several during a rotation (old and new), one per line.
 */
export async function readHostCa(path: string): Promise<SshPublicKey[]> {
  let keys: SshPublicKey[];
  try {
    keys = parsePublicKeyList(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new AirlockError('USAGE', `--host-ca ${path}: ${(cause as Error).message}`, { cause });
  }
  if (keys.length === 0) throw new AirlockError('USAGE', `--host-ca ${path} holds no public key`);
  return keys;
}

/**
 * Writes one @cert-authority line per host CA key for the alias into the
 * airlock known_hosts (keeping other lines, replacing the alias's earlier
 * ones, so a retired CA goes with the next run) and rewrites the ssh_config
 * snippet. Returns both paths.
 */
export async function writeHostTrust(
  configDir: string,
  cas: readonly SshPublicKey[],
  target: HostTrustTarget,
): Promise<{ knownHosts: string; sshConfig: string }> {
  const paths = hostTrustPaths(configDir);
  const lines = cas.map((ca) => certAuthorityLine(target.hostAlias, ca));
  const block = sshConfigBlock(target, paths.knownHosts);
  let existing = '';
  try {
    existing = await readFile(paths.knownHosts, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const prefix = `@cert-authority ${target.hostAlias} `;
  const kept = existing.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(prefix));
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeFile(paths.knownHosts, `${[...kept, ...lines].join('\n')}\n`, { mode: 0o644 });
  await writeFile(paths.sshConfig, block, { mode: 0o644 });
  return paths;
}
