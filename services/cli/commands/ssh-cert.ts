/**
 * `airlock ssh-cert check`: verifies an OpenSSH user certificate the way the
 * mediator does (CA, signature, validity, principal, critical options,
 * airlock scope, lifetime within the policy's TTL bound, revocation),
 * without a session signature. An adapter only: it reads files and formats
 * the result; the decision is the mediator's own `admitCertificate`
 * (services/core/session/certificate-admission.ts). Every text it prints from the
 * certificate (key id, principal, extensions, scope) is terminal-safe.
 */
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { jsonForTerminal, sanitizeForTerminal } from '../../core/command-language/index.js';
import { AirlockError } from '../../core/errors.js';
import { loadPolicy, type Policy } from '../../core/policy/index.js';
import { admitCertificate } from '../../core/session/certificate-admission.js';
import {
  type CertificateIdentity,
  createKrlRevocationList,
  parseCertificateLine,
  parseDenyList,
  parseKrl,
  parsePublicKeyList,
  type RevocationList,
  type SshPublicKey,
} from '../../core/ssh-cert/index.js';
import { collect } from './repeatable.js';

/**
 * The I/O a CLI command handler needs, passed in so handlers can be tested
 * with an in-memory fake instead of the real process.
 */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  readFile(path: string): Promise<Uint8Array>;
  /** The current time (the CLI's clock). */
  now(): Date;
}

/** The real process: stdout, stderr, the file system and the system clock. */
export const processCliIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  readFile: async (path) => readFile(path),
  now: () => new Date(),
};

/** Options of `airlock ssh-cert check`, as commander parses them. */
export interface SshCertCheckOptions {
  readonly cert: string;
  readonly ca: readonly string[];
  readonly principal: string;
  /** The policy file the mediator runs with (its TTL bounds apply). */
  readonly policy: string;
  readonly sourceAddress?: string;
  readonly krl?: readonly string[];
  readonly revoked?: readonly string[];
  /** RFC 3339 time to check at; default now. */
  readonly at?: string;
  readonly output?: 'text' | 'json';
  /** Clock skew tolerance in seconds (default 30). */
  readonly skew?: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

async function readInput(io: CliIo, path: string, flag: string): Promise<Uint8Array> {
  try {
    return await io.readFile(path);
  } catch (cause) {
    throw new AirlockError(
      'USAGE',
      `cannot read ${flag} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
}

/** Loads a configuration input, turning parse failures into USAGE errors naming the flag. */
function asConfig<T>(flag: string, path: string, load: () => T): T {
  try {
    return load();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new AirlockError('USAGE', `${flag} ${path}: ${reason}`, { cause });
  }
}

async function readPolicy(io: CliIo, path: string): Promise<Policy> {
  const text = Buffer.from(await readInput(io, path, '--policy')).toString('utf8');
  return asConfig('--policy', path, () => loadPolicy(JSON.parse(text)));
}

/** Formats certificate seconds as RFC 3339 UTC, or the raw number beyond the Date range. */
export function formatCertTime(seconds: bigint | null): string {
  if (seconds === null) return 'forever';
  const ms = Number(seconds) * 1000;
  return seconds <= 8_640_000_000_000n ? new Date(ms).toISOString().replace('.000Z', 'Z') : `${seconds}`;
}

function identityJson(identity: CertificateIdentity): Record<string, unknown> {
  return {
    principal: identity.principal,
    keyId: identity.keyId,
    serial: identity.serial.toString(),
    caFingerprint: identity.caFingerprint,
    keyFingerprint: identity.keyFingerprint,
    certType: identity.certType,
    validAfter: formatCertTime(identity.validAfter),
    validBefore: formatCertTime(identity.validBefore),
    extensions: identity.extensions,
    forceCommand: identity.forceCommand ?? null,
    scope: identity.scope ?? null,
  };
}

function identityText(identity: CertificateIdentity): string {
  // Every field may come from whoever signed the certificate: no raw control characters.
  const lines = [
    'accepted',
    `principal:      ${identity.principal}`,
    `key id:         ${identity.keyId}`,
    `serial:         ${identity.serial}`,
    `type:           ${identity.certType}`,
    `key:            ${identity.keyFingerprint}`,
    `signing CA:     ${identity.caFingerprint}`,
    `valid:          ${formatCertTime(identity.validAfter)} to ${formatCertTime(identity.validBefore)}`,
    `force-command:  ${identity.forceCommand ?? '(none)'}`,
    `extensions:     ${Object.keys(identity.extensions).join(', ') || '(none)'}`,
    `scope:          ${identity.scope ? JSON.stringify(identity.scope) : '(none)'}`,
  ];
  return `${lines.map(sanitizeForTerminal).join('\n')}\n`;
}

/**
 * Runs the check and returns the exit status: 0 accepted, 1 refused. Usage
 * problems (unreadable files, a bad CA file, KRL or deny list, a bad `--at`)
 * throw AirlockError `USAGE`, which main() maps to exit 2.
 */
export async function runSshCertCheck(
  options: SshCertCheckOptions,
  io: CliIo = processCliIo,
): Promise<number> {
  const json = options.output === 'json';
  if (options.ca.length === 0) throw new AirlockError('USAGE', 'at least one --ca is required');
  let now = io.now();
  if (options.at !== undefined) {
    now = new Date(options.at);
    if (!RFC3339.test(options.at) || Number.isNaN(now.getTime())) {
      throw new AirlockError(
        'USAGE',
        `--at ${options.at} is not an RFC 3339 time (e.g. 2030-01-01T12:00:00Z)`,
      );
    }
  }
  let skewSeconds: number | undefined;
  if (options.skew !== undefined) {
    if (!/^[0-9]{1,6}$/.test(options.skew))
      throw new AirlockError('USAGE', '--skew must be a number of seconds');
    skewSeconds = Number(options.skew);
  }
  const trustedCAs: SshPublicKey[] = [];
  for (const path of options.ca) {
    const text = Buffer.from(await readInput(io, path, '--ca')).toString('utf8');
    const keys = asConfig('--ca', path, () => parsePublicKeyList(text));
    if (keys.length === 0) throw new AirlockError('USAGE', `--ca ${path} contains no public key`);
    trustedCAs.push(...keys);
  }
  const revocation: RevocationList[] = [];
  for (const path of options.krl ?? []) {
    const bytes = await readInput(io, path, '--krl');
    revocation.push(asConfig('--krl', path, () => createKrlRevocationList(parseKrl(bytes))));
  }
  for (const path of options.revoked ?? []) {
    const text = Buffer.from(await readInput(io, path, '--revoked')).toString('utf8');
    revocation.push(asConfig('--revoked', path, () => parseDenyList(text)));
  }
  const policy = await readPolicy(io, options.policy);
  const certText = Buffer.from(await readInput(io, options.cert, '--cert'))
    .toString('utf8')
    .trim();

  try {
    const { certificate } = parseCertificateLine(certText);
    const identity = admitCertificate(certificate, {
      trustedCAs,
      principal: options.principal,
      now,
      clientAddress: options.sourceAddress,
      revocation,
      skewSeconds,
      policy,
    });
    io.out(
      json
        ? `${jsonForTerminal({ accepted: true, identity: identityJson(identity) })}\n`
        : identityText(identity),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof AirlockError) || error.code === 'USAGE') throw error;
    if (json) {
      io.out(
        `${jsonForTerminal({ accepted: false, code: error.code, reason: error.message, detail: error.detail ?? null })}\n`,
      );
    } else {
      io.out(`${error.code}: ${sanitizeForTerminal(error.message)}\n`);
      if (error.detail) io.err(`${sanitizeForTerminal(error.detail)}\n`);
    }
    return 1;
  }
}

/** Commander argument parser for repeatable options. */

/** Registers `airlock ssh-cert` and its subcommands. */
export function registerSshCertCommands(program: Command): void {
  const sshCert = program
    .command('ssh-cert')
    .description('Inspect and check OpenSSH user certificates (PROTOCOL.certkeys)');
  sshCert
    .command('check')
    .description(
      'Check an OpenSSH user certificate as the airlock mediator would: trusted CA, CA signature, ' +
        'user type, validity window, principal, critical options, airlock scope, lifetime within ' +
        "the policy's max TTL for the scope's profile (CERT_LIFETIME_EXCEEDS_POLICY) and revocation. " +
        'The session signature is not checked. Exit 0 accepted, 1 refused (prints CODE: reason), 2 usage.',
    )
    .requiredOption('--cert <file>', 'certificate file, e.g. ~/.ssh/id_ed25519-cert.pub')
    .requiredOption('--ca <file>', 'trusted CA public keys (one per line); repeat for rotation', collect)
    .requiredOption('--principal <name>', 'the login name the certificate must list')
    .requiredOption('--policy <file>', 'the policy file the mediator runs with (its TTL bounds apply)')
    .option('--source-address <ip>', 'client IP address, checked against the source-address option')
    .option('--krl <file>', 'OpenSSH KRL file made by `ssh-keygen -k`; repeatable', collect)
    .option(
      '--revoked <file>',
      'JSON deny list {"serials":[],"keyIds":[],"fingerprints":[]}; repeatable',
      collect,
      [],
    )
    .option('--at <time>', 'check at this RFC 3339 time instead of now, e.g. 2030-01-01T12:00:00Z')
    .option('--skew <seconds>', 'tolerated clock skew in seconds', '30')
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock ssh-cert check --cert id_ed25519-cert.pub --ca user_ca.pub --principal alice \\\n' +
        '      --policy policy.json\n' +
        '  airlock ssh-cert check --cert c.pub --ca old_ca.pub --ca new_ca.pub --principal alice \\\n' +
        '      --policy policy.json \\\n' +
        '      --source-address 10.1.2.3 --krl revoked.krl --at 2030-01-01T12:00:00Z --output json',
    )
    .action(async (options: SshCertCheckOptions) => {
      process.exitCode = await runSshCertCheck(options);
    });
}
