/**
 * `airlock audit play` replays an asciicast v2 session recording to stdout,
 * paced as recorded.
 */
import type { Command } from 'commander';
import { type Asciicast, AsciicastFormatError, parseAsciicast } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import { readAuditInput, utf8 } from './audit-input.js';
import { type CliIo, processCliIo } from './ssh-cert.js';

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
  const text = utf8.decode(await readAuditInput(io, file, 'recording'));
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

/** Registers `airlock audit play`. */
export function registerAuditPlayCommand(audit: Command): void {
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
