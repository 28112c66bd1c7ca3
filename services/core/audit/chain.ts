/**
 * The hash chain, as pure functions: building an event record or a signed
 * checkpoint from the chain head, and checking a checkpoint's signature. No
 * I/O; the file trail and the verifier share these.
 *
 * Record rules (docs/audit.md):
 * - `hash` = hex SHA-256 of the canonical JSON of the record without `hash`;
 *   the stored line is the canonical JSON of the whole record.
 * - `prev` = the previous record's `hash` (GENESIS_HASH for seq 0); `seq`
 *   counts every record, checkpoints included, from 0 without gaps.
 * - a checkpoint's `sig` is Ed25519 over the canonical JSON without `sig` and
 *   `hash`; it commits to `prev`, hence to every earlier record.
 */
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import type {
  AuditCheckpointRecord,
  AuditEvent,
  AuditEventRecord,
  AuditRecord,
  AuditTier,
  CheckpointReason,
} from './types.js';

/** Where the chain stands: the next seq and the hash to put in `prev`. */
export interface ChainHead {
  readonly nextSeq: number;
  readonly prev: string;
}

/** A record and the exact line (without newline) that stores it. */
export interface SealedRecord<R extends AuditRecord = AuditRecord> {
  readonly record: R;
  readonly line: string;
}

/**
 * Identifies a signing key in checkpoints: `ed25519:` and the first 32 hex
 * digits of SHA-256 over the public key's SPKI DER encoding.
 */
export function auditKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

function seal<R extends AuditRecord>(withoutHash: Omit<R, 'hash'>): SealedRecord<R> {
  const hash = sha256Hex(canonicalJson(withoutHash));
  const record = { ...withoutHash, hash } as R;
  return { record, line: canonicalJson(record) };
}

/** Seals an event as the record after `head`. */
export function sealEvent(head: ChainHead, event: AuditEvent): SealedRecord<AuditEventRecord> {
  return seal<AuditEventRecord>({ ...event, type: 'event', seq: head.nextSeq, prev: head.prev });
}

/** Builds and signs the checkpoint after `head`. */
export function sealCheckpoint(
  head: ChainHead,
  input: { time: string; tier: AuditTier; reason: CheckpointReason; signingKey: KeyObject; keyId: string },
): SealedRecord<AuditCheckpointRecord> {
  const unsigned = {
    type: 'checkpoint' as const,
    v: 1 as const,
    time: input.time,
    tier: input.tier,
    reason: input.reason,
    seq: head.nextSeq,
    prev: head.prev,
    upTo: head.nextSeq - 1,
    chainHash: head.prev,
    keyId: input.keyId,
  };
  const sig = sign(null, Buffer.from(canonicalJson(unsigned), 'utf8'), input.signingKey).toString('base64');
  return seal<AuditCheckpointRecord>({ ...unsigned, sig });
}

/** True when `sig` is a valid signature of the checkpoint by `publicKey`. */
export function checkpointSignatureValid(record: AuditCheckpointRecord, publicKey: KeyObject): boolean {
  const { sig, hash: _hash, ...unsigned } = record;
  try {
    return verify(null, Buffer.from(canonicalJson(unsigned), 'utf8'), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** The head after `record`. */
export function headAfter(record: AuditRecord): ChainHead {
  return { nextSeq: record.seq + 1, prev: record.hash };
}
