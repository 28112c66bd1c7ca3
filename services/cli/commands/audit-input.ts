/**
 * Reading the files the `airlock audit` subcommands are given: a file that
 * cannot be read is a usage error (exit 2) naming the flag or argument.
 */
import { AirlockError } from '../../core/errors.js';
import type { CliIo } from './ssh-cert.js';

/** Decodes inputs as UTF-8, replacing invalid bytes rather than failing. */
export const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Reads `path`; `what` names it in the USAGE error (`--public-key`, `audit trail`, …). */
export async function readAuditInput(io: CliIo, path: string, what: string): Promise<Uint8Array> {
  try {
    return await io.readFile(path);
  } catch (cause) {
    throw new AirlockError('USAGE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}
