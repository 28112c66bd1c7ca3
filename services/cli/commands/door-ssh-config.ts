import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AirlockError } from '../../core/errors.js';

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
 * mediator's host key is checked under that name (known_hosts, or
 * `@cert-authority` for the airlock host CA).
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
    '',
  ].join('\n');
}

/** Where `airlock cert --door` writes the entry by default: one file per request, for `Include …/ssh/*.conf`. */
export function defaultDoorSshConfigPath(configDir: string, requestId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(requestId))
    throw new AirlockError('USAGE', 'the request id cannot name a file; pass --ssh-config');
  return join(configDir, 'ssh', `${requestId}.conf`);
}

/** Writes the entry (mode 0600, its directory 0700). */
export async function writeDoorSshConfig(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, text, { mode: 0o600 });
}
