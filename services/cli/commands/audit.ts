/**
 * `airlock audit verify` checks one tier's hash-chained, checkpoint-signed
 * audit trail (services/core/audit, docs/audit.md); `airlock audit keygen`
 * creates the Ed25519 key pair a tier signs its checkpoints with.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type AuditTrailSource, auditKeyId, verifyAuditTrail } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

/** Options of `airlock audit verify`, as commander parses them. */
export interface AuditVerifyCliOptions {
  /** PEM files of trusted checkpoint-signing public keys; at least one. */
  readonly publicKey: readonly string[];
  /** The first file continues a chain begun in an earlier, rotated-away file. */
  readonly continued?: boolean;
  /** Report a trail that does not end with a close (or rotate) checkpoint. */
  readonly requireClosed?: boolean;
  readonly output?: 'text' | 'json';
}

/** Options of `airlock audit keygen`. */
export interface AuditKeygenOptions {
  readonly out: string;
  /** Base file name; default `audit-signing`. */
  readonly name?: string;
}

async function read(io: CliIo, path: string, what: string): Promise<Uint8Array> {
  try {
    return await io.readFile(path);
  } catch (cause) {
    throw new AirlockError('USAGE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

function loadPublicKey(path: string, bytes: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new AirlockError('USAGE', `--public-key ${path} is not a PEM public key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AirlockError('USAGE', `--public-key ${path} is a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}

/**
 * Verifies `files` as one trail, in the order given. Returns 0 when there are
 * no problems and 1 when there are (each listed on stdout); throws USAGE
 * (exit 2) for missing or unreadable files and keys.
 */
export async function runAuditVerify(
  files: readonly string[],
  options: AuditVerifyCliOptions,
  io: CliIo = processCliIo,
): Promise<number> {
  if (files.length === 0) throw new AirlockError('USAGE', 'name at least one audit trail FILE');
  if (options.publicKey.length === 0)
    throw new AirlockError(
      'USAGE',
      '--public-key is required: the PEM public key that signs the checkpoints',
    );
  const output = options.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new AirlockError('USAGE', `--output must be text or json, not ${String(output)}`);
  const publicKeys: KeyObject[] = [];
  for (const path of options.publicKey)
    publicKeys.push(loadPublicKey(path, await read(io, path, '--public-key')));
  const sources: AuditTrailSource[] = [];
  for (const path of files) sources.push({ name: path, content: await read(io, path, 'audit trail') });

  const result = verifyAuditTrail(sources, {
    publicKeys,
    continued: options.continued ?? false,
    requireClosed: options.requireClosed ?? false,
  });

  if (output === 'json') {
    io.out(
      `${JSON.stringify({
        ok: result.ok,
        files,
        records: result.records,
        lastCheckpointSeq: result.lastCheckpointSeq ?? null,
        closed: result.closed,
        problems: result.problems.map((p) => ({ ...p, seq: p.seq ?? null })),
      })}\n`,
    );
  } else {
    for (const p of result.problems)
      io.out(`${p.file}:${p.line}: ${p.kind}${p.seq === undefined ? '' : ` (seq ${p.seq})`}: ${p.message}\n`);
    const checkpoint =
      result.lastCheckpointSeq === undefined
        ? 'no signed checkpoint'
        : `last signed checkpoint seq ${result.lastCheckpointSeq}`;
    const state = result.closed ? 'closed' : 'not closed (still being written, or cut back to a checkpoint)';
    io.out(
      `${result.ok ? 'OK' : 'FAILED'}: ${result.records} records in ${files.length} file${files.length === 1 ? '' : 's'}, ${checkpoint}, ${state}\n`,
    );
  }
  if (result.ok) return 0;
  io.err(
    `airlock: AUDIT_TAMPERED: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} in the audit trail\n`,
  );
  return 1;
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

const collect = (value: string, previous: string[]) => [...previous, value];

/** Registers `airlock audit` and its subcommands. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('Verify tier audit trails and create their checkpoint-signing keys (docs/audit.md)');
  audit
    .command('verify')
    .description(
      'Verify hash-chained, checkpoint-signed audit trail files. The files are one trail in chain order ' +
        '(rotated files first: FILE.000000000100 FILE.000000000200 FILE). Exit 0 when intact, 1 with each ' +
        'problem listed (malformed, hash, order, chain, signature, truncated, unsigned-tail), 2 on usage errors.',
    )
    .argument('<files...>', 'audit trail files, oldest first')
    .option('--public-key <file>', 'PEM Ed25519 public key trusted for checkpoints (repeatable)', collect, [])
    .option('--continued', 'the first file continues a chain from an earlier rotated file not given here')
    .option('--require-closed', 'also fail unless the trail ends with a close or rotate checkpoint')
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock audit verify /var/log/airlock/mediator.jsonl --public-key mediator-audit.pub\n' +
        '  airlock audit verify /var/log/airlock/broker.jsonl.* /var/log/airlock/broker.jsonl \\\n' +
        '      --public-key broker-audit.pub --require-closed --output json',
    )
    .action(async (files: string[], options: AuditVerifyCliOptions) => {
      process.exitCode = await runAuditVerify(files, options);
    });
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
