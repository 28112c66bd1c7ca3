/**
 * The broker as a witness of the tiers' trails (docs/audit.md "Witnessed
 * checkpoints"): the mediator and the executor POST their latest signed
 * checkpoint head to `/v1/audit/witness`, and the broker records it in its own
 * trail as a durable `checkpoint.witnessed` event, as the tiers do for each
 * other. `airlock audit verify --with-trail <broker trail>` then finds a tier
 * trail cut back and re-signed after the broker saw its head.
 *
 * The route needs no bearer token: what it records must carry a valid
 * signature by one of the tier audit keys the broker is configured with
 * (`audit.witnessKeyFiles`), so a caller can only hand it heads the tiers
 * signed; a head already recorded (by hash, the last MAX_REMEMBERED) is not
 * recorded again. The answer carries the broker's own latest head, which the
 * tier records in turn (a cosigned head both ways).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { canonicalJson } from '../core/audit/canonical-json.js';
import { checkpointSignatureValid } from '../core/audit/chain.js';
import type { AuditTrail } from '../core/audit/types.js';
import { parseWitnessedHead, witnessEvent } from '../core/audit/witness.js';
import { AirlockError } from '../core/errors.js';

/** How many recorded head hashes the broker remembers to refuse replays. */
export const MAX_REMEMBERED = 4096;

/** The answer to one POST: whether the head was recorded now, and the broker's own latest head ('' before its first). */
export interface WitnessAnswer {
  readonly recorded: boolean;
  readonly head: string;
}

export interface BrokerWitness {
  /** Records the head in `body` (`{"head": "<checkpoint line>"}`); AUDIT_WITNESS_INVALID when malformed or not signed by a trusted tier key. */
  record(body: unknown): Promise<WitnessAnswer>;
}

export function createBrokerWitness(trail: AuditTrail, tierKeys: readonly KeyObject[]): BrokerWitness {
  const remembered = new Set<string>();
  const ownHead = () => {
    const own = trail.latestCheckpoint();
    return own === undefined ? '' : canonicalJson(own);
  };
  return {
    async record(body) {
      const text = (body as { head?: unknown } | null)?.head;
      if (typeof text !== 'string')
        throw new AirlockError('AUDIT_WITNESS_INVALID', 'the body must be {"head": "<checkpoint line>"}');
      const head = parseWitnessedHead(text);
      if (!tierKeys.some((key) => checkpointSignatureValid(head, key)))
        throw new AirlockError(
          'AUDIT_WITNESS_INVALID',
          'the checkpoint head to witness is not signed by a tier audit key the broker trusts',
        );
      if (remembered.has(head.hash)) return { recorded: false, head: ownHead() };
      await trail.append(witnessEvent(head), { durable: true });
      remembered.add(head.hash);
      if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.values().next().value as string);
      return { recorded: true, head: ownHead() };
    },
  };
}

/** The tier audit public keys of `audit.witnessKeyFiles` (PEM, Ed25519); CONFIG_INVALID otherwise. */
export async function readTierAuditKeys(files: readonly string[]): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  for (const file of files) {
    try {
      const key = createPublicKey(await readFile(file, 'utf8'));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
      keys.push(key);
    } catch (cause) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `audit.witnessKeyFiles: ${file}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return keys;
}
