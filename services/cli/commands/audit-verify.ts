/**
 * `airlock audit verify` checks one tier's hash-chained, checkpoint-signed
 * audit trail (services/core/audit, docs/audit.md), and with `--with-trail`
 * the checkpoint heads the tiers witnessed of each other.
 */
import type { KeyObject } from 'node:crypto';
import { type Command, Option } from 'commander';
import {
  type AuditProblem,
  type AuditTrailSource,
  type AuditVerifyResult,
  verifyAuditTrail,
} from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { readAuditInput } from './audit-input.js';
import {
  loadAuditPublicKey,
  verifyWitnessedTrails,
  type WitnessVerifyReport,
  withTrailFiles,
  witnessSummary,
} from './audit-verify-witness.js';
import { collect } from './repeatable.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

/** Options of `airlock audit verify`, as commander parses them. */
export interface AuditVerifyCliOptions {
  /** PEM files of trusted checkpoint-signing public keys; at least one. */
  readonly publicKey: readonly string[];
  /** The first file continues a chain begun in an earlier, rotated-away file. */
  readonly continued?: boolean;
  /** Report a trail that does not end with a close checkpoint (and any unsigned tail). */
  readonly requireClosed?: boolean;
  /** Report records not yet covered by a signed checkpoint as a problem, not a warning. */
  readonly requireSigned?: boolean;
  /** Other tiers' trails (each: files comma-separated, oldest first) to check witnessed heads against. */
  readonly withTrail?: readonly string[];
  readonly output?: 'text' | 'json';
}

/** What one `audit verify` run found, for either output format. */
interface AuditVerifyReport {
  readonly files: readonly string[];
  readonly result: AuditVerifyResult;
  readonly witness: WitnessVerifyReport;
  /** The trail's problems, then those of the other trails and the witness cross-check. */
  readonly problems: readonly AuditProblem[];
}

/** Checks the arguments before anything is read; returns the output format. */
function checkVerifyArguments(files: readonly string[], options: AuditVerifyCliOptions): 'text' | 'json' {
  if (files.length === 0) throw new AirlockError('USAGE', 'name at least one audit trail FILE');
  if (options.publicKey.length === 0)
    throw new AirlockError(
      'USAGE',
      '--public-key is required: the PEM public key that signs the checkpoints',
    );
  const output = options.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new AirlockError('USAGE', `--output must be text or json, not ${String(output)}`);
  return output;
}

/** Reads each `--with-trail` trail, its files in the order given. */
async function readOtherTrails(withTrail: readonly string[], io: CliIo): Promise<AuditTrailSource[][]> {
  const others: AuditTrailSource[][] = [];
  for (const trail of withTrailFiles(withTrail)) {
    const trailSources: AuditTrailSource[] = [];
    for (const path of trail)
      trailSources.push({ name: path, content: await readAuditInput(io, path, '--with-trail') });
    others.push(trailSources);
  }
  return others;
}

function writeVerifyJson(report: AuditVerifyReport, options: AuditVerifyCliOptions, io: CliIo): void {
  const { files, result, witness, problems } = report;
  const tail = result.unsignedTail;
  io.out(
    `${JSON.stringify({
      ok: problems.length === 0,
      files,
      records: result.records,
      lastCheckpointSeq: result.lastCheckpointSeq ?? null,
      closed: result.closed,
      unsignedTail: tail ?? null,
      problems: problems.map((p) => ({ ...p, seq: p.seq ?? null })),
      ...(options.withTrail?.length || witness.confirmed + witness.unchecked.length > 0
        ? {
            witness: { trails: witness.trails, confirmed: witness.confirmed, unchecked: witness.unchecked },
          }
        : {}),
    })}\n`,
  );
}

function writeVerifyText(report: AuditVerifyReport, io: CliIo): void {
  const { files, result, witness, problems } = report;
  const ok = problems.length === 0;
  const tail = result.unsignedTail;
  const tailWarning = tail !== undefined && !result.problems.some((p) => p.kind === 'unsigned-tail');
  for (const p of problems)
    io.out(
      `${p.file}:${p.line}: ${p.kind}${p.seq === undefined ? '' : ` (seq ${p.seq})`}: ${p.message} [${p.code}]\n`,
    );
  if (tailWarning)
    io.out(
      `${tail.file}:${tail.line}: warning: unsigned-tail (seq ${tail.seq}): the last ${tail.count} ` +
        `record${tail.count === 1 ? ' is' : 's are'} not yet covered by a signed checkpoint (an open trail; ` +
        '--require-signed or --require-closed fail on this)\n',
    );
  const checkpoint =
    result.lastCheckpointSeq === undefined
      ? 'no signed checkpoint'
      : `last signed checkpoint seq ${result.lastCheckpointSeq}`;
  const state = result.closed ? 'closed' : 'not closed (still being written, or cut back to a checkpoint)';
  const unsigned = tail === undefined ? '' : `, ${tail.count} unsigned`;
  io.out(witnessSummary(witness));
  io.out(
    `${ok ? 'OK' : 'FAILED'}: ${result.records} records in ${files.length} file${files.length === 1 ? '' : 's'}, ${checkpoint}${unsigned}, ${state}\n`,
  );
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
  const output = checkVerifyArguments(files, options);
  const publicKeys: KeyObject[] = [];
  for (const path of options.publicKey)
    publicKeys.push(loadAuditPublicKey(path, await readAuditInput(io, path, '--public-key')));
  const sources: AuditTrailSource[] = [];
  for (const path of files)
    sources.push({ name: path, content: await readAuditInput(io, path, 'audit trail') });

  const result = verifyAuditTrail(sources, {
    publicKeys,
    continued: options.continued ?? false,
    requireClosed: options.requireClosed ?? false,
    requireSigned: options.requireSigned ?? false,
  });
  const others = await readOtherTrails(options.withTrail ?? [], io);
  const witness = verifyWitnessedTrails({ files, sources }, others, publicKeys);
  const problems = [...result.problems, ...witness.problems];
  const report: AuditVerifyReport = { files, result, witness, problems };
  if (output === 'json') writeVerifyJson(report, options, io);
  else writeVerifyText(report, io);
  if (problems.length === 0) return 0;
  io.err(
    `airlock: AUDIT_TAMPERED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the audit trail\n`,
  );
  return 1;
}

/** Registers `airlock audit verify`. */
export function registerAuditVerifyCommand(audit: Command): void {
  audit
    .command('verify')
    .description(
      'Verify hash-chained, checkpoint-signed audit trail files. The files are one trail in chain order ' +
        '(rotated files first: FILE.000000000100 FILE.000000000200 FILE). Exit 0 when intact, 1 with each ' +
        'problem listed with its code (malformed, hash, order, seq-reused, time, chain, signature, truncated, ' +
        'rotation, empty, unsigned-tail), 2 on usage errors. Records of an open trail not yet covered by a ' +
        'signed checkpoint are a warning with their count (exit 0) unless --require-signed or --require-closed.',
    )
    .argument('<files...>', 'audit trail files, oldest first')
    .option('--public-key <file>', 'PEM Ed25519 public key trusted for checkpoints (repeatable)', collect, [])
    .option('--continued', 'the first file continues a chain from an earlier rotated file not given here')
    .option(
      '--require-closed',
      'also fail unless the trail ends with a close checkpoint (a trail that was shut down; a rotate ' +
        'checkpoint ends a trail only together with the file after it)',
    )
    .option('--require-signed', 'also fail if records after the last signed checkpoint exist (unsigned tail)')
    .option(
      '--with-trail <files>',
      "another tier's trail (its files comma-separated, oldest first; repeatable): verified too, and every " +
        'witnessed checkpoint head in any trail must be in the trail it names (AUDIT_WITNESS_MISMATCH)',
      collect,
      [],
    )
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock audit verify /var/log/airlock/mediator.jsonl --public-key mediator-audit.pub\n' +
        '  airlock audit verify /var/log/airlock/broker.jsonl.* /var/log/airlock/broker.jsonl \\\n' +
        '      --public-key broker-audit.pub --require-closed --output json\n' +
        '  airlock audit verify executor.jsonl --with-trail mediator.jsonl.000000000500,mediator.jsonl \\\n' +
        '      --with-trail broker.jsonl --public-key executor.pub --public-key mediator.pub --public-key broker.pub',
    )
    .action(async (files: string[], options: AuditVerifyCliOptions) => {
      process.exitCode = await runAuditVerify(files, options);
    });
}
