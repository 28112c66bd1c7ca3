/**
 * `airlock audit keygen` creates the Ed25519 key pair a tier signs its audit
 * checkpoints with; existing key files are never overwritten.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { auditKeyId } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
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

async function writeNew(path: string, content: string, mode: number): Promise<void> {
  try {
    // 'wx' fails if the file exists, so an existing key is never replaced, even in a race.
    await writeFile(path, content, { flag: 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new AirlockError(
        'AUDIT_KEY_EXISTS',
        `${path} already exists; refusing to overwrite an audit key`,
        {
          detail: 'Remove it deliberately, or choose another --out or --name.',
        },
      );
    throw new AirlockError('USAGE', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Creates the Ed25519 checkpoint-signing key pair; returns the exit status (0). */
export async function runAuditKeygen(
  options: AuditKeygenOptions,
  io: Pick<CliIo, 'out' | 'err'> = processCliIo,
): Promise<number> {
  const name = options.name ?? 'audit-signing';
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.'))
    throw new AirlockError('USAGE', `--name ${name} is not a plain file name`);
  const paths = auditKeyPaths(options.out, name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(options.out, { recursive: true, mode: 0o700 });
  await writeNew(paths.privateKey, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  try {
    await writeNew(paths.publicKey, publicKey.export({ format: 'pem', type: 'spki' }).toString(), 0o644);
  } catch (error) {
    await unlink(paths.privateKey); // do not leave half a key pair behind
    throw error;
  }
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
