/**
 * The revocation deny list the broker writes and the mediator and executor
 * read: a JSON document in the `parseDenyList` format
 * (`{ "serials": [...], "keyIds": [...] }`, services/core/ssh-cert). Every
 * change rewrites the file atomically, so a reader sees the old or the new
 * list, never a torn one.
 */
import { readFile } from 'node:fs/promises';
import type { DenyListDocument } from '../core/ssh-cert/index.js';
import { parseDenyList } from '../core/ssh-cert/index.js';
import { writeFileAtomic } from './request-store.js';

/** One revoked certificate. */
export interface RevocationEntry {
  readonly serial?: bigint;
  readonly keyId?: string;
  /**
   * The public key blob of the CA that signed the certificate; the KRL scopes
   * serials to it. The JSON deny list does not use it.
   */
  readonly caKey?: Uint8Array;
}

/**
 * Port: adds certificates to a revocation list. Resolves once the list is
 * on disk; rejects if it could not be written (the caller then must not
 * report the certificate as revoked). Adding an entry twice is harmless.
 */
export interface DenyListWriter {
  revoke(entry: RevocationEntry): Promise<void>;
}

/**
 * Publishes each revocation to every writer in turn (the JSON deny list,
 * then the KRL); resolves once all have it, rejects on the first failure.
 */
export function createRevocationPublisher(writers: readonly DenyListWriter[]): DenyListWriter {
  return {
    async revoke(entry) {
      for (const writer of writers) await writer.revoke(entry);
    },
  };
}

/** A deny list file; created on first revocation, existing entries kept. */
export function createFileDenyList(path: string): DenyListWriter {
  let chain: Promise<void> = Promise.resolve();
  return {
    revoke(entry) {
      const next = chain.then(async () => {
        let doc: { serials: string[]; keyIds: string[]; fingerprints?: string[] } = {
          serials: [],
          keyIds: [],
        };
        try {
          const text = await readFile(path, 'utf8');
          parseDenyList(text); // refuse to extend a list that readers could not parse
          const existing = JSON.parse(text) as DenyListDocument;
          doc = {
            serials: (existing.serials ?? []).map(String),
            keyIds: [...(existing.keyIds ?? [])],
            ...(existing.fingerprints === undefined ? {} : { fingerprints: [...existing.fingerprints] }),
          };
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        if (entry.serial !== undefined && !doc.serials.includes(entry.serial.toString())) {
          doc.serials.push(entry.serial.toString());
        }
        if (entry.keyId !== undefined && !doc.keyIds.includes(entry.keyId)) doc.keyIds.push(entry.keyId);
        // Readable by the mediator and executor (often another user in the same group).
        await writeFileAtomic(path, `${JSON.stringify(doc, null, 1)}\n`, 0o644);
      });
      chain = next.catch(() => {});
      return next;
    },
  };
}

/** In-memory deny list for tests. */
export class InMemoryDenyList implements DenyListWriter {
  readonly serials: bigint[] = [];
  readonly keyIds: string[] = [];

  async revoke(entry: RevocationEntry): Promise<void> {
    if (entry.serial !== undefined) this.serials.push(entry.serial);
    if (entry.keyId !== undefined) this.keyIds.push(entry.keyId);
  }
}
