/**
 * `airlock audit timeline` merges the tiers' trails and the Kubernetes audit
 * log into one story, as text, JSON or a self-contained HTML page that embeds
 * the session recordings it finds.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import {
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
} from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { utf8 } from './audit-input.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

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

/** Registers `airlock audit timeline`. */
export function registerAuditTimelineCommand(audit: Command): void {
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
}
