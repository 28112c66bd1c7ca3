/**
 * `airlock audit keygen` creates the Ed25519 key pair a tier signs its audit
 * checkpoints with; existing key files are never overwritten.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { auditKeyId } from '../../core/audit/index.js';
import { checkPlainName, writeNewKeyPair } from './key-pair-files.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

/** Options of `airlock audit keygen`. */
export interface AuditKeygenOptions {
  readonly out: string;
  /** Base file name; default `audit-signing`. */
  readonly name?: string;
}

/** Paths `airlock audit keygen` writes. */
export function auditKeyPaths(
  out: string,
  name = 'audit-signing',
): { privateKey: string; publicKey: string } {
  return { privateKey: join(out, `${name}.key`), publicKey: join(out, `${name}.pub`) };
}

/** Creates the Ed25519 checkpoint-signing key pair; returns the exit status (0). */
export async function runAuditKeygen(
  options: AuditKeygenOptions,
  io: Pick<CliIo, 'out' | 'err'> = processCliIo,
): Promise<number> {
  const name = options.name ?? 'audit-signing';
  checkPlainName(name);
  const paths = auditKeyPaths(options.out, name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeNewKeyPair(
    options.out,
    paths,
    {
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    },
    { code: 'AUDIT_KEY_EXISTS', what: 'an audit key' },
  );
  io.out(`${auditKeyId(publicKey)}\n`);
  io.err(
    `wrote ${paths.privateKey} (private, 0600; the tier's audit signingKey) and ${paths.publicKey} ` +
      '(for airlock audit verify --public-key)\n',
  );
  return 0;
}

/** Registers `airlock audit keygen`. */
export function registerAuditKeygenCommand(audit: Command): void {
  audit
    .command('keygen')
    .description(
      'Create an Ed25519 key pair for signing audit checkpoints: NAME.key (PKCS#8 PEM, mode 0600) and ' +
        'NAME.pub (SPKI PEM). Existing files are never overwritten (AUDIT_KEY_EXISTS). Prints the key id.',
    )
    .requiredOption('--out <dir>', 'directory to write the key pair into (created 0700 if missing)')
    .option('--name <file>', 'base file name of the key pair', 'audit-signing')
    .addHelpText('after', '\nExample:\n  airlock audit keygen --out /etc/airlock/mediator')
    .action(async (options: AuditKeygenOptions) => {
      process.exitCode = await runAuditKeygen(options);
    });
}
