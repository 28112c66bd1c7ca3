/**
 * `airlock audit verify` checks one tier's hash-chained, checkpoint-signed
 * audit trail (services/core/audit, docs/audit.md); `airlock audit keygen`
 * creates the Ed25519 key pair a tier signs its checkpoints with;
 * `airlock audit timeline` merges the tiers' trails and the Kubernetes audit
 * log into one story; `airlock audit play` replays a session recording.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import {
  type Asciicast,
  AsciicastFormatError,
  type AuditTrailSource,
  auditKeyId,
  buildTimeline,
  isAsciicastHeaderLine,
  markTimelineOrphans,
  parseAsciicast,
  playableFrames,
  reconcileTimelineSources,
  renderTimelineHtml,
  renderTimelineJson,
  renderTimelineText,
  type TimelineEntry,
  type TimelineFilter,
  type TimelineRecording,
  terminalSafe,
  verifyAuditTrail,
} from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { registerAuditCollect } from './audit-collect.js';
import { registerAuditExportCommand } from './audit-export.js';
import { registerAuditReconcileCommand } from './audit-reconcile.js';
import {
  loadAuditPublicKey,
  verifyWitnessedTrails,
  withTrailFiles,
  witnessSummary,
} from './audit-verify-witness.js';
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
    publicKeys.push(loadAuditPublicKey(path, await read(io, path, '--public-key')));
  const sources: AuditTrailSource[] = [];
  for (const path of files) sources.push({ name: path, content: await read(io, path, 'audit trail') });

  const result = verifyAuditTrail(sources, {
    publicKeys,
    continued: options.continued ?? false,
    requireClosed: options.requireClosed ?? false,
    requireSigned: options.requireSigned ?? false,
  });
  const others: AuditTrailSource[][] = [];
  for (const trail of withTrailFiles(options.withTrail ?? [])) {
    const trailSources: AuditTrailSource[] = [];
    for (const path of trail)
      trailSources.push({ name: path, content: await read(io, path, '--with-trail') });
    others.push(trailSources);
  }
  const witness = verifyWitnessedTrails({ files, sources }, others, publicKeys);
  const problems = [...result.problems, ...witness.problems];
  const ok = problems.length === 0;
  const tail = result.unsignedTail;
  const tailWarning = tail !== undefined && !result.problems.some((p) => p.kind === 'unsigned-tail');

  if (output === 'json') {
    io.out(
      `${JSON.stringify({
        ok,
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
  } else {
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
  if (ok) return 0;
  io.err(
    `airlock: AUDIT_TAMPERED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the audit trail\n`,
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

/** Options of `airlock audit timeline`, as commander parses them. */
export interface AuditTimelineCliOptions {
  readonly session?: string;
  readonly trace?: string;
  readonly request?: string;
  readonly user?: string;
  /** RFC 3339 times, inclusive. */
  readonly since?: string;
  readonly until?: string;
  readonly output?: 'text' | 'json' | 'html';
  /** Reconcile the Kubernetes audit logs given with the trails; orphans go to their own lane. */
  readonly orphans?: boolean;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parseTime(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!RFC3339.test(value) || Number.isNaN(ms))
    throw new AirlockError('USAGE', `${flag} ${value} is not an RFC 3339 time (2026-11-27T09:14:00Z)`);
  return new Date(ms);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Reads an input; a directory (e.g. from a shell glob) is skipped, anything else unreadable is USAGE. */
async function readInput(io: CliIo, path: string): Promise<string | undefined> {
  try {
    return utf8.decode(await io.readFile(path));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw new AirlockError('USAGE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Finds the recordings the entries reference: among the FILES given, at the
 * referenced path, or next to any trail file (by base name). A recording is
 * embedded only when it parses as asciicast v2 and, when the trail recorded
 * a `recording_sha256`, its hash matches.
 */
async function findRecordings(
  entries: readonly TimelineEntry[],
  given: ReadonlyMap<string, string>,
  trailDirs: readonly string[],
  io: CliIo,
): Promise<TimelineRecording[]> {
  const refs = new Map<string, string | undefined>();
  for (const e of entries)
    if (e.recording && !refs.has(e.recording.path)) refs.set(e.recording.path, e.recording.sha256);
  const out: TimelineRecording[] = [];
  for (const [ref, expected] of refs) {
    const candidates = [...given.keys()].filter((p) => basename(p) === basename(ref));
    candidates.push(ref, ...trailDirs.map((d) => join(d, basename(ref))));
    let problem = 'not found next to the trail files or at the referenced path';
    let found: TimelineRecording | undefined;
    for (const candidate of [...new Set(candidates)]) {
      let text = given.get(candidate);
      if (text === undefined) {
        try {
          text = utf8.decode(await io.readFile(candidate));
        } catch {
          continue;
        }
      }
      if (expected !== undefined && sha256(text) !== expected) {
        problem = `${candidate}: SHA-256 does not match the recording_sha256 in the trail (altered or another file)`;
        continue;
      }
      try {
        const cast = parseAsciicast(text);
        found = { ref, foundAt: candidate, frames: playableFrames(cast.frames), problem: undefined };
        break;
      } catch (error) {
        problem = `${candidate}: not asciicast v2: ${(error as Error).message}`;
      }
    }
    out.push(found ?? { ref, foundAt: undefined, frames: [], problem });
  }
  return out;
}

/**
 * Merges airlock trails and Kubernetes audit logs into one timeline and
 * writes it as text, JSON or HTML. Returns 0; throws USAGE (exit 2) for bad
 * options, unreadable files, or when no FILE is a trail or audit log.
 * Files that are neither (keys, READMEs, directories from a glob) are
 * skipped with a note on stderr; asciicast files are used as recordings.
 */
export async function runAuditTimeline(
  files: readonly string[],
  options: AuditTimelineCliOptions,
  io: CliIo = processCliIo,
): Promise<number> {
  if (files.length === 0)
    throw new AirlockError('USAGE', 'name at least one audit trail or Kubernetes audit log FILE');
  const output = options.output ?? 'text';
  if (output !== 'text' && output !== 'json' && output !== 'html')
    throw new AirlockError('USAGE', `--output must be text, json or html, not ${String(output)}`);
  const filter: TimelineFilter = {
    ...(options.session === undefined ? {} : { session: options.session }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
    ...(options.request === undefined ? {} : { request: options.request }),
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.since === undefined ? {} : { since: parseTime('--since', options.since) }),
    ...(options.until === undefined ? {} : { until: parseTime('--until', options.until) }),
  };
  const sources: { name: string; content: string }[] = [];
  const casts = new Map<string, string>();
  for (const path of files) {
    const content = await readInput(io, path);
    if (content === undefined) {
      io.err(`airlock: skipped ${terminalSafe(path)}: a directory\n`);
      continue;
    }
    const firstLine = content.split('\n', 1)[0] ?? '';
    if (isAsciicastHeaderLine(firstLine)) casts.set(path, content);
    else sources.push({ name: path, content });
  }
  const built = buildTimeline(sources, filter);
  const skipped = built.skipped;
  const orphans = options.orphans ? reconcileTimelineSources(sources) : undefined;
  const entries = orphans === undefined ? built.entries : markTimelineOrphans(built.entries, orphans);
  const used = new Set<string>();
  const skippedByFile = new Map<string, number>();
  for (const s of skipped) skippedByFile.set(s.file, (skippedByFile.get(s.file) ?? 0) + 1);
  for (const s of sources) {
    const lines = s.content.split('\n').filter((l) => l.trim() !== '').length;
    if (lines > 0 && skippedByFile.get(s.name) === lines)
      io.err(`airlock: skipped ${terminalSafe(s.name)}: not an airlock trail or Kubernetes audit log\n`);
    else {
      used.add(s.name);
      const n = skippedByFile.get(s.name);
      if (n)
        io.err(`airlock: ${terminalSafe(s.name)}: ${n} unrecognised line${n === 1 ? '' : 's'} skipped\n`);
    }
  }
  if (used.size === 0)
    throw new AirlockError('USAGE', 'none of the FILES is an airlock audit trail or a Kubernetes audit log');

  if (output === 'text') io.out(renderTimelineText(entries));
  else if (output === 'json') io.out(renderTimelineJson(entries));
  else {
    const trailDirs = [...new Set([...used].map((f) => dirname(f)))];
    const recordings = await findRecordings(entries, casts, trailDirs, io);
    io.out(renderTimelineHtml({ entries, filter, recordings, files: [...used] }));
  }
  return 0;
}

/** Options of `airlock audit play`. */
export interface AuditPlayCliOptions {
  /** Playback speed factor; default 1. */
  readonly speed?: string;
  /** Longest pause between frames, in seconds (after speed); default 2. */
  readonly maxIdle?: string;
}

/** The CLI seam plus the sleep that paces playback (a fake in tests). */
export interface AuditPlayIo extends CliIo {
  sleep(ms: number): Promise<void>;
}

/** The real process, sleeping with setTimeout. */
export const processAuditPlayIo: AuditPlayIo = {
  ...processCliIo,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

function positiveNumber(
  flag: string,
  value: string | undefined,
  fallback: number,
  allowZero: boolean,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new AirlockError(
      'USAGE',
      `${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, not ${value}`,
    );
  return n;
}

/**
 * Replays the output frames of `cast` through `write`, waiting between
 * frames as recorded divided by `speed`, each wait capped at `maxIdle`
 * seconds. Input, resize and marker events are not written.
 */
export async function playAsciicast(
  cast: Asciicast,
  options: { speed: number; maxIdle: number },
  write: (text: string) => void,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let previous = 0;
  for (const [time, code, data] of cast.frames) {
    if (code !== 'o') continue;
    const wait = Math.min((time - previous) / options.speed, options.maxIdle);
    previous = time;
    if (wait > 0) await sleep(Math.round(wait * 1000));
    write(data);
  }
}

/**
 * `airlock audit play FILE`: replays a session recording to stdout. The
 * output is written as recorded, escape sequences included, as `asciinema
 * play` does: play recordings you trust, or view them in the timeline page,
 * which strips escapes. Returns 0; USAGE (exit 2) for an unreadable or
 * malformed file or bad options.
 */
export async function runAuditPlay(
  file: string,
  options: AuditPlayCliOptions,
  io: AuditPlayIo = processAuditPlayIo,
): Promise<number> {
  const speed = positiveNumber('--speed', options.speed, 1, false);
  const maxIdle = positiveNumber('--max-idle', options.maxIdle, 2, true);
  const text = utf8.decode(await read(io, file, 'recording'));
  let cast: Asciicast;
  try {
    cast = parseAsciicast(text);
  } catch (error) {
    if (error instanceof AsciicastFormatError)
      throw new AirlockError('USAGE', `${file} is not an asciicast v2 recording: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  await playAsciicast(cast, { speed, maxIdle }, (t) => io.out(t), io.sleep);
  return 0;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Registers `airlock audit` and its subcommands. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description(
      'Verify tier audit trails, create their checkpoint-signing keys, show a session timeline across tiers ' +
        'and replay session recordings (docs/audit.md)',
    );
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
  registerAuditCollect(audit);
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
  audit
    .command('timeline')
    .description(
      'Merge airlock trails (any tier) and Kubernetes API server audit logs (audit.k8s.io/v1) into one ' +
        'time-ordered timeline. --session also keeps broker entries of the same request. Files that are ' +
        'neither are skipped; asciicast files given are used as recordings in the HTML page. Does not verify ' +
        'the trails (use airlock audit verify). Exit 0, or 2 on usage errors.',
    )
    .argument('<files...>', 'trail files, Kubernetes audit logs and recordings, in any order')
    .option('--session <id>', 'only this airlock session (plus its requests in the broker)')
    .option('--trace <id>', 'only this W3C trace id')
    .option('--request <id>', 'only this access request')
    .option('--user <name>', 'only entries about this user')
    .option('--since <time>', 'only entries at or after this RFC 3339 time')
    .option('--until <time>', 'only entries at or before this RFC 3339 time')
    .option(
      '--orphans',
      'hold the Kubernetes audit logs against the trails (as airlock audit reconcile) and show orphans in ' +
        'their own lane (red in HTML)',
    )
    .addOption(
      new Option(
        '--output <format>',
        'output format; html is one self-contained page for a reviewer: a summary per request (who, what, ' +
          'when, how long, decisions, anomalies), a time axis per tier, and rows that expand into details',
      )
        .choices(['text', 'json', 'html'])
        .default('text'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  airlock audit timeline --session ses_8Kq2 docs/examples/*.jsonl docs/examples/kube-audit.log\n' +
        '  airlock audit timeline --trace 4bf92f3577b34da6a3ce929d0e0e4736 --output html \\\n' +
        '      broker.jsonl mediator.jsonl executor.jsonl kube-audit.log > timeline.html',
    )
    .action(async (files: string[], options: AuditTimelineCliOptions) => {
      process.exitCode = await runAuditTimeline(files, options);
    });
  registerAuditReconcileCommand(audit);
  registerAuditExportCommand(audit);
  audit
    .command('play')
    .description(
      'Replay an asciicast v2 session recording to stdout, escape sequences included (play recordings you ' +
        'trust). Exit 0, or 2 for a malformed recording or bad options.',
    )
    .argument('<file>', 'the .cast recording')
    .option('--speed <n>', 'playback speed factor', '1')
    .option('--max-idle <seconds>', 'longest pause between frames', '2')
    .action(async (file: string, options: AuditPlayCliOptions) => {
      process.exitCode = await runAuditPlay(file, options);
    });
}
