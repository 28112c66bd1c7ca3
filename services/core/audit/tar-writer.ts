/**
 * A minimal POSIX ustar writer (IEEE Std 1003.1-2001, "pax"/ustar header
 * format) for `airlock audit export`: regular files only, in memory, no
 * native dependency. Names are ASCII paths of at most 100 bytes; anything
 * else is refused rather than written in a form some reader misreads.
 */
import { AirlockError } from '../errors.js';

export interface TarFile {
  /** Relative path inside the archive, `/`-separated, ASCII, ≤ 100 bytes. */
  readonly name: string;
  readonly content: Uint8Array | string;
  /** Permission bits; default 0o644. */
  readonly mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 octal digits and a NUL, as ustar readers expect.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mode: number, mtime: number): Buffer {
  if (
    !/^[\x21-\x7e][\x20-\x7e]*$/.test(name) ||
    name.length > 100 ||
    name.startsWith('/') ||
    name.split('/').includes('..')
  )
    throw new AirlockError(
      'USAGE',
      `cannot put ${JSON.stringify(name)} into the archive: not a short relative ASCII path`,
    );
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 'ascii');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** The archive of `files` (in the order given), every entry dated `mtime` (Unix seconds). */
export function writeTar(files: readonly TarFile[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file.name)) throw new AirlockError('USAGE', `two files named ${file.name} in the archive`);
    seen.add(file.name);
    const body =
      typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
    parts.push(header(file.name, body.length, file.mode ?? 0o644, Math.floor(mtime)), body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  return Buffer.concat(parts);
}
