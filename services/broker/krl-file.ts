/**
 * The revocation KRL the broker publishes next to the JSON deny list: an
 * OpenSSH key revocation list (PROTOCOL.krl) that the mediator and executor
 * (`revocation.krlFiles`), sshd (`RevokedKeys`) and `ssh-keygen -Q` read.
 * Each revocation reads the current file, adds the certificate (serial under
 * its CA, and key id) and rewrites the file atomically (temp file, fsync,
 * rename), so a reader sees the old or the new list, never a torn one.
 */
import { readFile } from 'node:fs/promises';
import {
  addKrlRevocation,
  emptyKrl,
  encodeKrl,
  type Krl,
  type KrlDocument,
  parseKrl,
} from '../core/ssh-cert/index.js';
import type { DenyListWriter, RevocationEntry } from './deny-list.js';
import { writeFileAtomic } from './request-store.js';

const COMMENT = 'airlock broker revocations';

/** The KRL file's content, or `undefined` if there is none yet. Refuses a file it cannot extend. */
async function readKrl(path: string): Promise<Krl | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // parseKrl throws CERT_MALFORMED on a damaged file: better no revocation than a list readers refuse.
  // A signed KRL is refused by addKrlRevocation: its signature could not be kept.
  return parseKrl(bytes);
}

/** A KRL file, created empty by `ensureExists` or on the first revocation; existing entries kept. */
export function createFileKrl(
  path: string,
  clock: () => Date,
): DenyListWriter & {
  /** Writes an empty KRL if the file does not exist, so the tiers can watch it from the start. */
  ensureExists(): Promise<void>;
} {
  let chain: Promise<void> = Promise.resolve();
  const serialised = (work: () => Promise<void>): Promise<void> => {
    const next = chain.then(work);
    chain = next.catch(() => {});
    return next;
  };
  // Readable by the mediator and executor (often another user in the same group).
  const write = (krl: KrlDocument) => writeFileAtomic(path, encodeKrl(krl), 0o644);
  return {
    ensureExists: () =>
      serialised(async () => {
        if ((await readKrl(path)) === undefined) {
          await write({ ...emptyKrl(COMMENT), generatedAt: BigInt(Math.floor(clock().getTime() / 1000)) });
        }
      }),
    revoke: (entry: RevocationEntry) =>
      serialised(async () => {
        const current = (await readKrl(path)) ?? emptyKrl(COMMENT);
        // The key id (unique to one request) goes under the signing CA when a
        // certificate was issued, under any CA when none was; a serial without
        // its CA is refused by addKrlRevocation rather than dropped.
        await write(addKrlRevocation(current, entry, clock()));
      }),
  };
}
