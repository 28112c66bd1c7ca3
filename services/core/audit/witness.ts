/**
 * Witnessed checkpoints. A hash chain cannot show on its own that its newest
 * records were cut off and the rest re-signed with the tier's key: only a
 * copy of an earlier head kept outside the tier can. So each tier sends its
 * latest durable signed checkpoint to the tiers it already talks to, and each
 * receiver records it in its own trail as a `checkpoint.witnessed` event (a
 * cosigned head, as Certificate Transparency witnesses do: RFC 9162 §8.1.4
 * "gossip"). `checkWitnessedHeads` then holds every witnessed head against
 * the witnessed trail: a head that the trail no longer contains proves the
 * trail was cut back (or replaced) after that head was witnessed.
 *
 * A cut is undetectable only while it reaches no further back than the last
 * witnessed head: docs/audit.md, "Witnessed checkpoints".
 */
import type { KeyObject } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { checkpointSignatureValid } from './chain.js';
import {
  AUDIT_TIERS,
  type AuditCheckpointRecord,
  type AuditEventInput,
  type AuditRecord,
  type AuditTrail,
} from './types.js';
import { type AuditProblem, type AuditTrailSource, shapeOk, splitLines } from './verify.js';

/** The event a witness appends. */
export const WITNESS_EVENT = 'checkpoint.witnessed';

/** Longest head line accepted from a peer; a checkpoint is about 500 bytes. */
export const MAX_WITNESS_HEAD_BYTES = 4096;

const HEX64 = /^[0-9a-f]{64}$/;
const KEY_ID = /^ed25519:[0-9a-f]{32}$/;
const REASONS = ['interval', 'manual', 'rotate', 'close'];

function invalid(why: string): AirlockError {
  return new AirlockError('AUDIT_WITNESS_INVALID', `the checkpoint head to witness ${why}`);
}

/**
 * Parses a head received from a peer tier (untrusted): one checkpoint record
 * as canonical JSON, its `hash` correct. The signature is not checked here (a
 * tier need not hold the other tiers' public keys); `audit verify` checks it.
 * Throws AUDIT_WITNESS_INVALID.
 */
export function parseWitnessedHead(text: string): AuditCheckpointRecord {
  if (Buffer.byteLength(text, 'utf8') > MAX_WITNESS_HEAD_BYTES) throw invalid('is too long');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('is not JSON');
  }
  if (!shapeOk(value) || value.type !== 'checkpoint') throw invalid('is not a checkpoint record');
  const r = value;
  if (!(AUDIT_TIERS as readonly string[]).includes(r.tier) || !REASONS.includes(r.reason))
    throw invalid('names an unknown tier or reason');
  if (r.upTo !== r.seq - 1 || r.chainHash !== r.prev || !HEX64.test(r.chainHash))
    throw invalid('does not describe the record before it');
  if (!KEY_ID.test(r.keyId) || Number.isNaN(Date.parse(r.time)))
    throw invalid('has a malformed key id or time');
  if (canonicalJson(r) !== text) throw invalid('is not in canonical form');
  const { hash, ...withoutHash } = r;
  if (sha256Hex(canonicalJson(withoutHash)) !== hash) throw invalid('does not match its hash');
  return r;
}

/** The event recording `head`, witnessed by the caller's tier. */
export function witnessEvent(
  head: AuditCheckpointRecord,
  context: { session_id?: string; trace_id?: string } = {},
): AuditEventInput {
  return {
    event: WITNESS_EVENT,
    actor: { kind: 'service', user: head.tier },
    target: {},
    ...context,
    details: { checkpoint: head },
  };
}

/**
 * One tier's side of the exchange: its own head to send, and recording the
 * heads it receives. Lifecycle: created by the composition root around the
 * tier's trail; `record` appends durably and rejects with AUDIT_UNAVAILABLE
 * when the trail cannot be written, AUDIT_WITNESS_INVALID for a malformed head.
 */
export interface CheckpointWitness {
  /** This tier's latest durable checkpoint as its stored line, or '' before the first one. */
  ownHead(): string;
  /** Records a peer's head ('' = none sent: nothing to do); a head already recorded is not recorded again. */
  record(line: string, context?: { session_id?: string; trace_id?: string }): Promise<void>;
}

export function createCheckpointWitness(trail: AuditTrail): CheckpointWitness {
  /** Per signing key, the hash of the last head recorded, so a quiet peer's head is recorded once. */
  const lastByKey = new Map<string, string>();
  return {
    ownHead() {
      const own = trail.latestCheckpoint();
      return own === undefined ? '' : canonicalJson(own);
    },
    async record(line, context = {}) {
      if (line === '') return;
      const head = parseWitnessedHead(line);
      if (head.keyId === trail.latestCheckpoint()?.keyId) return; // our own head, sent back
      if (lastByKey.get(head.keyId) === head.hash) return;
      await trail.append(witnessEvent(head, context), { durable: true });
      lastByKey.set(head.keyId, head.hash);
    },
  };
}

/** A trail as given to the cross-check: its name (for messages) and its files in chain order. */
export interface WitnessTrailInput {
  readonly name: string;
  readonly sources: readonly AuditTrailSource[];
}

/** A witnessed head whose trail was not given, so it could not be checked. */
export interface UncheckedWitness {
  readonly file: string;
  readonly line: number;
  readonly keyId: string;
  readonly tier: string;
  readonly seq: number;
}

export interface WitnessCheckResult {
  /** Witness records checked against a given trail and found there. */
  readonly confirmed: number;
  readonly problems: readonly AuditProblem[];
  readonly unchecked: readonly UncheckedWitness[];
}

interface Located<R> {
  readonly record: R;
  readonly file: string;
  readonly line: number;
}

function recordsOf(trail: WitnessTrailInput): Located<AuditRecord>[] {
  const out: Located<AuditRecord>[] = [];
  for (const source of trail.sources)
    for (const [index, line] of splitLines(source.content).entries()) {
      if (line.text === undefined) continue;
      try {
        const value: unknown = JSON.parse(line.text);
        if (shapeOk(value)) out.push({ record: value, file: source.name, line: index + 1 });
      } catch {
        // malformed lines are the per-trail verification's business
      }
    }
  return out;
}

/**
 * Holds every `checkpoint.witnessed` record of every trail against the trails
 * given. A trail is identified by the key id of its checkpoints. A witnessed
 * head whose key signed a checkpoint in some given trail must be a checkpoint
 * of such a trail, same seq and hash; otherwise a `witness` problem
 * (AUDIT_WITNESS_MISMATCH) names the witness record's file and line. Heads of
 * keys no given trail carries are returned as `unchecked`.
 */
export function checkWitnessedHeads(
  trails: readonly WitnessTrailInput[],
  publicKeys: readonly KeyObject[],
): WitnessCheckResult {
  const all = trails.map(recordsOf);
  const byKey = new Map<string, { names: Set<string>; heads: Map<string, number> }>();
  for (const [i, records] of all.entries())
    for (const { record } of records) {
      if (record.type !== 'checkpoint') continue;
      const entry = byKey.get(record.keyId) ?? { names: new Set<string>(), heads: new Map<string, number>() };
      entry.names.add(trails[i]!.name);
      entry.heads.set(record.hash, record.seq);
      byKey.set(record.keyId, entry);
    }
  const problems: AuditProblem[] = [];
  const unchecked: UncheckedWitness[] = [];
  let confirmed = 0;
  for (const records of all)
    for (const { record, file, line } of records) {
      if (record.type !== 'event' || record.event !== WITNESS_EVENT) continue;
      const problem = (message: string) =>
        problems.push({
          kind: 'witness',
          code: 'AUDIT_WITNESS_MISMATCH',
          seq: record.seq,
          file,
          line,
          message,
        });
      let head: AuditCheckpointRecord;
      try {
        head = parseWitnessedHead(canonicalJson(record.details?.checkpoint ?? null));
      } catch (error) {
        problem(`witness record: ${(error as Error).message}`);
        continue;
      }
      const label = `${head.tier} checkpoint seq ${head.seq} (key ${head.keyId}, hash ${head.hash.slice(0, 16)}…)`;
      const trusted = publicKeys.filter((key) => checkpointSignatureValid(head, key));
      if (trusted.length === 0) {
        problem(`the witnessed ${label} is not signed by a trusted --public-key`);
        continue;
      }
      const witnessed = byKey.get(head.keyId);
      if (witnessed === undefined) {
        unchecked.push({ file, line, keyId: head.keyId, tier: head.tier, seq: head.seq });
        continue;
      }
      if (witnessed.heads.get(head.hash) === head.seq) {
        confirmed++;
        continue;
      }
      problem(
        `the witnessed ${label} is not in ${[...witnessed.names].join(', ')}: that trail was cut back ` +
          'and re-signed, or replaced, after this head was witnessed',
      );
    }
  return { confirmed, problems, unchecked };
}
