/**
 * `airlock audit collect`: rebuilds tier trail files from what the
 * OpenTelemetry Collector's file exporter stored off the pod
 * (docs/audit-shipping.md), so `airlock audit verify` checks the shipped copy
 * byte for byte. The reconstruction is pure (core/audit/shipped-trail.ts);
 * this file reads and writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { assembleShippedTrails, parseShippedLogs, type ShippedLine } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

/** Options of `airlock audit collect`. */
export interface AuditCollectOptions {
  /** Directory the trail files are written to, one subdirectory per origin (pod). */
  readonly out: string;
}

/** A trail origin as a directory name: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
export function originDirectory(trail: string): string {
  const origin = trail.slice(0, trail.lastIndexOf('/'));
  const safe = origin.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || /^\.+$/.test(safe) ? '_' : safe;
}

/**
 * Reads the exporter files in the order given (oldest first), writes each
 * trail's files under `out/<origin>/`, and lists them. Exit 0, or 1 when a
 * line of the exporter files is not OTLP/JSON logs (each listed; the trails
 * are still written, and verify tells whether a record is missing).
 */
export async function runAuditCollect(
  files: readonly string[],
  options: AuditCollectOptions,
  io: CliIo = processCliIo,
): Promise<number> {
  if (files.length === 0) throw new AirlockError('USAGE', 'name at least one file the collector exported');
  const lines: ShippedLine[] = [];
  let problems = 0;
  for (const path of files) {
    let bytes: Uint8Array;
    try {
      bytes = await io.readFile(path);
    } catch (cause) {
      throw new AirlockError('USAGE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
    const parsed = parseShippedLogs(Buffer.from(bytes).toString('utf8'));
    lines.push(...parsed.lines);
    for (const problem of parsed.problems) io.out(`${path}:${problem.line}: ${problem.reason}\n`);
    problems += parsed.problems.length;
  }
  for (const file of assembleShippedTrails(lines)) {
    const dir = join(options.out, originDirectory(file.trail));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, file.name);
    await writeFile(path, file.bytes, { mode: 0o600 });
    io.out(`${path}\n`);
  }
  if (problems === 0) return 0;
  io.err(`airlock: AUDIT_LINE_MALFORMED: ${problems} line(s) of the exported files are not OTLP/JSON logs\n`);
  return 1;
}

/** Adds `collect` to the `airlock audit` command. */
export function registerAuditCollect(audit: Command): void {
  audit
    .command('collect')
    .description(
      'Rebuild tier audit trail files from the OpenTelemetry Collector file exporter output (OTLP/JSON, ' +
        'docs/audit-shipping.md): one directory per trail origin (pod), files named like the tier wrote them ' +
        '(rotated ones with their .<seq> suffix), duplicates of at-least-once delivery dropped, ready for ' +
        'airlock audit verify. Exit 0, 1 when an exported line is not OTLP/JSON logs, 2 on usage errors.',
    )
    .argument('<files...>', 'files the collector exported, oldest first')
    .requiredOption('--out <dir>', 'directory to write the rebuilt trails into')
    .addHelpText(
      'after',
      '\nExample:\n' +
        '  airlock audit collect /mnt/audit-store/audit.otlp.jsonl* --out collected\n' +
        '  airlock audit verify collected/airlock-mediator-7d9f-x2/mediator.jsonl --public-key mediator-audit.pub',
    )
    .action(async (files: string[], options: AuditCollectOptions) => {
      process.exitCode = await runAuditCollect(files, options);
    });
}
