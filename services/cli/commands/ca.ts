import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { AirlockError } from '../../core/errors.js';
import {
  type CaKeyKind,
  formatOpenSshPrivateKey,
  formatPublicKeyLine,
  generateCaKey,
  sha256Fingerprint,
} from '../../core/ssh-cert/index.js';
import { CA_ROTATE_HELP, type CaRotateOptions, runCaRotate } from './ca-rotate.js';
import { type CaSignHostOptions, runCaSignHost } from './ca-sign-host.js';
import { checkPlainName, writeNewKeyPair } from './key-pair-files.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

/** Options of `airlock ca init`. */
export interface CaInitOptions {
  readonly type: CaKeyKind;
  /** `user` (default): the SSH user CA; `host`: the airlock host CA. */
  readonly kind?: 'user' | 'host';
  readonly out: string;
  /** Base file name; default `airlock_user_ca`. */
  readonly name?: string;
  readonly comment?: string;
}

/** Paths `airlock ca init` writes. */
export function caKeyPaths(out: string, name = 'airlock_user_ca'): { privateKey: string; publicKey: string } {
  return { privateKey: join(out, name), publicKey: join(out, `${name}.pub`) };
}

/** Creates the CA key pair; returns the exit status (0). */
export async function runCaInit(
  options: CaInitOptions,
  io: Pick<CliIo, 'out' | 'err'> = processCliIo,
): Promise<number> {
  if (options.type !== 'ed25519' && options.type !== 'ecdsa-p256') {
    throw new AirlockError('USAGE', `--type must be ed25519 or ecdsa-p256, not ${String(options.type)}`);
  }
  const host = options.kind === 'host';
  const name = options.name ?? (host ? 'airlock_host_ca' : 'airlock_user_ca');
  checkPlainName(name);
  const paths = caKeyPaths(options.out, name);
  const comment = options.comment ?? (host ? 'airlock-host-ca' : 'airlock-user-ca');
  const key = generateCaKey(options.type, comment);
  const publicLine = formatPublicKeyLine(key.publicKey, comment);
  await writeNewKeyPair(
    options.out,
    paths,
    { privateKey: formatOpenSshPrivateKey(key.privateKey, comment), publicKey: `${publicLine}\n` },
    { code: 'CA_KEY_EXISTS', what: 'a CA key' },
  );
  io.out(`${publicLine}\n`);
  io.err(
    `wrote ${paths.privateKey} (private, 0600) and ${paths.publicKey}\n` +
      `fingerprint ${sha256Fingerprint(key.publicKey.blob)}\n` +
      (host
        ? 'clients trust it with "@cert-authority <host name> <the line above>" in known_hosts ' +
          '(airlock cert --host-ca); sign host keys with airlock ca sign-host\n'
        : 'add the line above to the file named by sshd_config TrustedUserCAKeys\n'),
  );
  return 0;
}

/** Registers `airlock ca` and its subcommands, in the order `airlock ca --help` lists them. */
export function registerCaCommands(program: Command): void {
  const ca = program
    .command('ca')
    .description('Manage the SSH user and host certificate authorities and rotate the CAs of every tier');
  registerCaInitCommand(ca);
  registerCaSignHostCommand(ca);
  registerCaRotateCommand(ca);
}

/** Registers `airlock ca init`. */
function registerCaInitCommand(ca: Command): void {
  ca.command('init')
    .description(
      'Create a new SSH user CA key pair in OpenSSH format. The private key is written with mode 0600; ' +
        'existing files are never overwritten (CA_KEY_EXISTS). Prints the public key line for sshd TrustedUserCAKeys.',
    )
    .addOption(
      new Option('--type <type>', 'key type').choices(['ed25519', 'ecdsa-p256']).makeOptionMandatory(),
    )
    .requiredOption('--out <dir>', 'directory to write the key pair into (created 0700 if missing)')
    .addOption(
      new Option('--kind <kind>', 'user: the SSH user CA; host: the airlock host CA that certifies mediators')
        .choices(['user', 'host'])
        .default('user'),
    )
    .option('--name <file>', 'base file name of the key pair (default airlock_user_ca / airlock_host_ca)')
    .option('--comment <text>', 'comment stored in the key files (default airlock-user-ca / airlock-host-ca)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock ca init --type ed25519 --out /etc/airlock/ca >> /etc/ssh/trusted_user_ca_keys\n' +
        '  airlock ca init --kind host --type ed25519 --out /etc/airlock/host-ca',
    )
    .action(async (options: CaInitOptions) => {
      process.exitCode = await runCaInit(options);
    });
}

/** Registers `airlock ca sign-host`. */
function registerCaSignHostCommand(ca: Command): void {
  ca.command('sign-host')
    .description(
      'Sign a host certificate for a mediator host key with the airlock host CA: type host, the given ' +
        'host names as principals, valid from a minute ago for --validity (at most 31 days), key id --id. ' +
        'Writes <key>-cert.pub for the mediator config hostCertificateFile.',
    )
    .requiredOption('--ca <file>', 'the host CA private key (airlock ca init --kind host)')
    .requiredOption('--key <file>', 'the host public key, e.g. ssh_host_ed25519_key.pub')
    .requiredOption(
      '--principal <name>',
      'a host name clients connect as (or their HostKeyAlias); repeat for more',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .requiredOption('--id <key id>', 'key id naming what the certificate is for, e.g. mediator/req-42')
    .option('--validity <duration>', 'how long the certificate is valid, e.g. 30m, 24h', '24h')
    .option('--out <file>', 'where to write the certificate (default: <key>-cert.pub)')
    .addHelpText(
      'after',
      '\nExample:\n' +
        '  airlock ca sign-host --ca /etc/airlock/host-ca/airlock_host_ca \\\n' +
        '      --key ssh_host_ed25519_key.pub --principal mediator.airlock --id mediator/standing --validity 24h',
    )
    .action(async (options: CaSignHostOptions) => {
      process.exitCode = await runCaSignHost(options, processCliIo);
    });
}

/** Registers `airlock ca rotate`. */
function registerCaRotateCommand(ca: Command): void {
  ca.command('rotate')
    .description(
      'Rotate the SSH user CA (broker) or a tier CA (mediator, executor) with overlap: add → switch → retire. ' +
        'Operates on the CA keyring directory; the running tiers pick up each step without a restart.',
    )
    .argument('<ca>', 'ssh-user | mediator | executor')
    .argument('<step>', 'add | switch | retire | status')
    .requiredOption('--dir <dir>', 'the CA keyring directory (created by the first add)')
    .option(
      '--name <name>',
      'add: name of the new key; retire: the key to retire (default: all but the signer)',
    )
    .addOption(new Option('--type <type>', 'add, ssh-user: key type').choices(['ed25519', 'ecdsa-p256']))
    .option(
      '--validity-days <days>',
      'add, mediator/executor: validity of the new CA certificate (default 365)',
    )
    .option('--import-key <file>', 'add: bring in this existing private key instead of generating one')
    .option('--import-cert <file>', 'add, mediator/executor: the certificate of --import-key')
    .option('--to <name>', 'switch: the key to sign with (default: the newest key that never signed)')
    .option('--max-lifetime <duration>', 'switch: longest life of a credential the old key signed (e.g. 24h)')
    .option('--force', 'retire: do not wait (a leaked key); what it signed stops verifying at once')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', CA_ROTATE_HELP)
    .action(async (caName: string, step: string, options: CaRotateOptions) => {
      process.exitCode = await runCaRotate(caName, step, options, {
        out: (text) => process.stdout.write(text),
        now: () => new Date(),
      });
    });
}
