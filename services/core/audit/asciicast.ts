/**
 * asciicast v2, the session-recording format of asciinema
 * (https://docs.asciinema.org/manual/asciicast/v2/): a header line, a JSON
 * object `{version: 2, width, height, timestamp?, env?}`, then one event per
 * line, a JSON array `[elapsedSeconds, code, data]` where code is `o`
 * (output), `i` (input), `r` (resize, data `"COLSxROWS"`) or `m` (marker).
 *
 * Pure: parsing, line formatting and ANSI stripping. The writer is
 * services/mediator/session-recording.ts; the readers are
 * `airlock audit play` and `airlock audit timeline`.
 */

import { AirlockError } from '../errors.js';

/** The header line of an asciicast v2 file. */
export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds of the start of the recording. */
  timestamp?: number;
  env?: Record<string, string>;
  [extra: string]: unknown;
}

/** The event codes of asciicast v2. */
export type AsciicastEventCode = 'o' | 'i' | 'r' | 'm';

/** One event line: seconds since the start, code, data. */
export type AsciicastFrame = [time: number, code: AsciicastEventCode, data: string];

/** A parsed recording. */
export interface Asciicast {
  readonly header: AsciicastHeader;
  readonly frames: readonly AsciicastFrame[];
}

/** A recording that is not valid asciicast v2 (code ASCIICAST_MALFORMED); `line` is 1-based. */
export class AsciicastFormatError extends AirlockError {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super('ASCIICAST_MALFORMED', `line ${line}: ${message}`);
  }
}

const CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm']);

function isDimension(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= 10_000;
}

/** True when `line` is an asciicast v2 header (used to recognise recordings among other files). */
export function isAsciicastHeaderLine(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    return (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      (value as Record<string, unknown>).version === 2 &&
      isDimension((value as Record<string, unknown>).width) &&
      isDimension((value as Record<string, unknown>).height)
    );
  } catch {
    return false;
  }
}

/**
 * Parses and validates an asciicast v2 recording. Throws
 * `AsciicastFormatError` naming the first bad line: a missing or invalid
 * header, a line that is not a 3-element event, an unknown code, or a time
 * that is negative, not finite or earlier than the one before.
 */
export function parseAsciicast(text: string): Asciicast {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = lines[0];
  if (first === undefined || first.trim() === '') throw new AsciicastFormatError(1, 'empty file, no header');
  let header: unknown;
  try {
    header = JSON.parse(first);
  } catch {
    throw new AsciicastFormatError(1, 'the header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new AsciicastFormatError(1, 'the header is not a JSON object');
  const h = header as Record<string, unknown>;
  if (h.version !== 2)
    throw new AsciicastFormatError(1, `version must be 2, not ${JSON.stringify(h.version)}`);
  if (!isDimension(h.width) || !isDimension(h.height))
    throw new AsciicastFormatError(1, 'width and height must be positive integers');
  const frames: AsciicastFrame[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue; // asciinema tolerates blank lines
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new AsciicastFormatError(i + 1, 'not JSON');
    }
    if (!Array.isArray(value) || value.length !== 3)
      throw new AsciicastFormatError(i + 1, 'an event must be [time, code, data]');
    const [time, code, data] = value as unknown[];
    if (typeof time !== 'number' || !Number.isFinite(time) || time < 0)
      throw new AsciicastFormatError(i + 1, 'time must be a non-negative number of seconds');
    if (time < last)
      throw new AsciicastFormatError(i + 1, `time ${time} is before the previous event (${last})`);
    if (typeof code !== 'string' || !CODES.has(code))
      throw new AsciicastFormatError(i + 1, `unknown event code ${JSON.stringify(code)}`);
    if (typeof data !== 'string') throw new AsciicastFormatError(i + 1, 'data must be a string');
    last = time;
    frames.push([time, code as AsciicastEventCode, data]);
  }
  return { header: header as AsciicastHeader, frames };
}

/** The header line (with its newline). */
export function formatAsciicastHeader(header: AsciicastHeader): string {
  return `${JSON.stringify(header)}\n`;
}

/** One event line (with its newline); time rounded to microseconds as asciinema writes it. */
export function formatAsciicastFrame(time: number, code: AsciicastEventCode, data: string): string {
  return `${JSON.stringify([Math.round(time * 1e6) / 1e6, code, data])}\n`;
}

// ECMA-48: CSI (ESC [ or 8-bit 0x9b) parameters, intermediates, final byte;
// OSC/DCS/APC/PM/SOS strings up to BEL or ST; other two-byte escapes.
const ANSI =
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b[\]P^_X]|[\u0090\u009d\u009e\u009f\u0098])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -/]*[0-~]?/g;
const OTHER_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Terminal output as plain text: escape sequences removed, CR LF as LF, a
 * lone CR and other control characters dropped (tabs and newlines kept).
 * Minimal by design: cursor movement is not emulated.
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '').replace(/\r\n/g, '\n').replace(OTHER_CONTROLS, '');
}
