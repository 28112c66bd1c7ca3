/**
 * `airlock cert --door`: the ssh_config entry that reaches one request's
 * ephemeral mediator through the jump door, and the known_hosts file that
 * verifies that mediator by the airlock host CA (`@cert-authority
 * <request-id> <host CA key>`, host-trust.ts), so no mediator pod is
 * trusted on first use.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { parsePublicKeyLine, type SshPublicKey } from '../../core/ssh-cert/index.js';
import { certAuthorityLine } from './host-trust.js';

/** What the ssh_config entry for one request through the jump door is made of. */
export interface DoorSshConfigInput {
  readonly requestId: string;
  /** The certificate's principal: the ssh user name at the door and at the mediator. */
  readonly principal: string;
  readonly privateKey: string;
  readonly certificatePath: string;
  /** `host` or `host:port` (`[v6]:port`) of the door. */
  readonly door: string;
  /** RFC 3339, for the comment. */
  readonly validBefore: string;
  /** The known_hosts file with the request's `@cert-authority` line ({@link doorKnownHosts}). */
  readonly knownHostsFile: string;
}

/** `host`, `host:port` or `[v6]:port` → host and port (22 when absent). */
export function parseDoorAddress(door: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(door);
  const plain = /^([^:\s[\]]+)(?::(\d{1,5}))?$/.exec(door);
  const match = bracketed ?? plain;
  const port = Number(match?.[2] ?? 22);
  if (!match || port < 1 || port > 65535)
    throw new AirlockError(
      'USAGE',
      `--door must be host or host:port, not ${JSON.stringify(door.slice(0, 100))}`,
    );
  return { host: match[1]!, port };
}

/** One ssh_config argument: quoted when it has a space; a value with a quote or a line break is refused. */
function arg(value: string): string {
  if (/["\r\n\0]/.test(value) || value === '')
    throw new AirlockError(
      'USAGE',
      `cannot write ${JSON.stringify(value.slice(0, 100))} into an ssh_config file`,
    );
  return /\s/.test(value) ? `"${value}"` : value;
}

/**
 * The ssh_config entry that reaches the request's mediator with stock
 * OpenSSH: a per-request alias for the door (so entries of several requests,
 * each with its own certificate, never share one), and `Host <request-id>`
 * jumping through it (ProxyJump). The door refuses any destination other
 * than the certificate's own request id, so the Host name is that id. The
 * mediator's host key is checked under that name (`HostKeyAlias`) in
 * `knownHostsFile` only, with `StrictHostKeyChecking yes`: the mediator must
 * present a host certificate the airlock host CA signed for this request id,
 * or ssh refuses it (exit 255). The door itself is checked as any ssh host,
 * by the user's own known_hosts.
 */
export function doorSshConfig(input: DoorSshConfigInput): string {
  const { host, port } = parseDoorAddress(input.door);
  const alias = `airlock-door-${input.requestId}`;
  const identity = [
    `  User ${arg(input.principal)}`,
    `  IdentityFile ${arg(input.privateKey)}`,
    `  CertificateFile ${arg(input.certificatePath)}`,
    '  IdentitiesOnly yes',
  ];
  return [
    `# airlock request ${input.requestId}, valid until ${input.validBefore} (written by airlock cert)`,
    `Host ${arg(alias)}`,
    `  HostName ${arg(host)}`,
    `  Port ${port}`,
    ...identity,
    `Host ${arg(input.requestId)}`,
    `  ProxyJump ${arg(alias)}`,
    ...identity,
    `  HostKeyAlias ${arg(input.requestId)}`,
    `  UserKnownHostsFile ${arg(input.knownHostsFile)}`,
    '  StrictHostKeyChecking yes',
    '',
  ].join('\n');
}

/** Where `airlock cert --door` writes the entry by default: one file per request, for `Include …/ssh/*.conf`. */
export function defaultDoorSshConfigPath(configDir: string, requestId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(requestId))
    throw new AirlockError('USAGE', 'the request id cannot name a file; pass --ssh-config');
  return join(configDir, 'ssh', `${requestId}.conf`);
}

/**
 * The host CA keys the door entry trusts: those of `--host-ca` when given,
 * else the ones the broker sent with the certificate (`hostCertificateAuthorities`,
 * ephemeral mode). Neither: USAGE, since a mediator nothing can verify would
 * be trusted on first use (a standing broker launches no per-request mediator).
 */
export function doorHostCas(
  fromBroker: unknown,
  fromFile: readonly SshPublicKey[] | undefined,
): SshPublicKey[] {
  if (fromFile !== undefined) return [...fromFile];
  if (!Array.isArray(fromBroker) || fromBroker.length === 0)
    throw new AirlockError(
      'USAGE',
      'the broker sent no host CA key with the certificate (is it in ephemeral mode?); ' +
        '--door needs one to verify the mediator: pass --host-ca <file>',
    );
  return fromBroker.map((line) => {
    try {
      return parsePublicKeyLine(String(line)).key;
    } catch (cause) {
      throw new AirlockError('USAGE', `the broker's host CA key is not an OpenSSH public key`, { cause });
    }
  });
}

/** The entry's known_hosts file: next to it, `<entry without .conf>.known_hosts`. */
export function doorKnownHostsPath(sshConfigPath: string): string {
  return `${sshConfigPath.replace(/\.conf$/, '')}.known_hosts`;
}

/**
 * The known_hosts text for one request's mediator: one `@cert-authority
 * <request-id>` line per host CA key (two during a rotation). Nothing else:
 * no host key is pinned, so only a certificate for this request id passes.
 */
export function doorKnownHosts(requestId: string, hostCas: readonly SshPublicKey[]): string {
  if (hostCas.length === 0)
    throw new AirlockError('USAGE', 'no host CA key: the mediator could not be verified');
  return `${hostCas.map((ca) => certAuthorityLine(requestId, ca)).join('\n')}\n`;
}

/** Writes the entry and its known_hosts (mode 0600, their directory 0700). */
export async function writeDoorSshConfig(
  path: string,
  text: string,
  knownHosts: { path: string; text: string },
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await mkdir(dirname(knownHosts.path), { recursive: true, mode: 0o700 });
  await writeFile(knownHosts.path, knownHosts.text, { mode: 0o600 });
  await writeFile(path, text, { mode: 0o600 });
}
