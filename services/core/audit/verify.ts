/**
 * `verifyAuditTrail`: checks a trail (one or more files in chain order)
 * without trusting anything in it but the public keys.
 *
 * Per line it checks, in order: the line is UTF-8 JSON ending in a newline
 * (`truncated` for an unterminated last line, `malformed` otherwise), has the
 * record shape and is byte-identical to its canonical JSON (`malformed`),
 * `hash` matches its content (`hash`), `seq` follows the previous record
 * (`order`), `prev` is the previous record's hash (`chain`), and for a
 * checkpoint that `upTo`/`chainHash` describe the preceding record and `sig`
 * verifies under a known key (`signature`). Records after the last valid
 * checkpoint are one `unsigned-tail` problem: they could have been removed or
 * rewritten without trace. With `requireClosed`, a trail whose last record is
 * not a `close` (or `rotate`) checkpoint is `truncated`.
 *
 * What it detects: any edit, deletion, insertion or reordering of lines
 * before the last checkpoint, and any change to a checkpoint. What it cannot:
 * removal of whole records at the very end back to an earlier checkpoint,
 * unless `requireClosed` says the trail must end with a close checkpoint.
 */

import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { auditKeyId, checkpointSignatureValid } from './chain.js';
import { type AuditCheckpointRecord, type AuditRecord, GENESIS_HASH } from './types.js';

export type AuditProblemKind =
  | 'hash'
  | 'chain'
  | 'signature'
  | 'order'
  | 'truncated'
  | 'malformed'
  | 'unsigned-tail';

/** One finding. `seq` is the record's claimed seq when it could be read. */
export interface AuditProblem {
  readonly kind: AuditProblemKind;
  readonly seq: number | undefined;
  /** 1-based line number within `file`. */
  readonly line: number;
  /** The source name (file path), when verifying files. */
  readonly file: string;
  readonly message: string;
}

export interface AuditVerifyResult {
  /** No problems at all. */
  readonly ok: boolean;
  /** Lines that parsed as records. */
  readonly records: number;
  /** Seq of the last checkpoint with a valid signature, or undefined. */
  readonly lastCheckpointSeq: number | undefined;
  /** The last record is a valid `close` checkpoint. */
  readonly closed: boolean;
  readonly problems: readonly AuditProblem[];
}

/** One input: a file's name and its bytes (or text). */
export interface AuditTrailSource {
  readonly name: string;
  readonly content: Uint8Array | string;
}

export interface AuditVerifyOptions {
  /** Keys whose checkpoint signatures are accepted. */
  readonly publicKeys: readonly KeyObject[];
  /**
   * The first source continues a chain begun in an earlier (rotated away)
   * file: its first record may have any seq and prev. Default false: the
   * first record must be seq 0 with the genesis prev.
   */
  readonly continued?: boolean;
  /** Report `truncated` unless the trail ends with a valid close or rotate checkpoint. */
  readonly requireClosed?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

function splitLines(content: Uint8Array | string): { text: string | undefined; terminated: boolean }[] {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  const lines: { text: string | undefined; terminated: boolean }[] = [];
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end === -1 ? bytes.length : end;
    let text: string | undefined;
    try {
      text = decoder.decode(bytes.subarray(start, stop));
    } catch {
      text = undefined;
    }
    lines.push({ text, terminated: end !== -1 });
    start = stop + 1;
  }
  return lines;
}

function shapeOk(value: unknown): value is AuditRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return false;
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return false;
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return false;
  if (r.type === 'event') return r.v === 1 && typeof r.event === 'string' && typeof r.time === 'string';
  if (r.type === 'checkpoint')
    return (
      r.v === 1 &&
      Number.isSafeInteger(r.upTo) &&
      typeof r.chainHash === 'string' &&
      typeof r.sig === 'string' &&
      typeof r.keyId === 'string'
    );
  return false;
}

/** Verifies a trail given as text/bytes of one file, or as several files in chain order. */
export function verifyAuditTrail(
  input: string | Uint8Array | readonly AuditTrailSource[],
  options: AuditVerifyOptions,
): AuditVerifyResult {
  const sources: readonly AuditTrailSource[] =
    typeof input === 'string' || input instanceof Uint8Array ? [{ name: '-', content: input }] : input;
  const keys = new Map<string, KeyObject>();
  for (const key of options.publicKeys) keys.set(auditKeyId(key), key);

  const problems: AuditProblem[] = [];
  let records = 0;
  let expectedSeq = 0;
  let expectedPrev = GENESIS_HASH;
  let anchored = !options.continued;
  let last: AuditRecord | undefined;
  let lastValidCheckpoint: AuditCheckpointRecord | undefined;
  let firstUnsigned: { seq: number; line: number; file: string } | undefined;
  let lastWasValidCheckpoint = false;

  sources.forEach((source, sourceIndex) => {
    const lines = splitLines(source.content);
    lines.forEach(({ text, terminated }, index) => {
      const line = index + 1;
      const report = (kind: AuditProblemKind, message: string, seq?: number) =>
        problems.push({ kind, seq, line, file: source.name, message });
      const isLastLine = sourceIndex === sources.length - 1 && index === lines.length - 1;
      let value: unknown;
      try {
        if (text === undefined) throw new Error('not UTF-8');
        value = JSON.parse(text);
      } catch {
        if (isLastLine && !terminated) report('truncated', 'the last line is incomplete');
        else report('malformed', text === undefined ? 'the line is not valid UTF-8' : 'the line is not JSON');
        lastWasValidCheckpoint = false;
        return;
      }
      if (!terminated) report('truncated', 'the last line has no newline');
      if (!shapeOk(value)) {
        report('malformed', 'the line is not an audit record');
        lastWasValidCheckpoint = false;
        return;
      }
      const record = value;
      records++;
      if (canonicalJson(record) !== text)
        report('malformed', 'the line is not in canonical form (edited by hand?)', record.seq);
      const { hash, ...withoutHash } = record;
      if (sha256Hex(canonicalJson(withoutHash)) !== hash)
        report('hash', 'the record does not match its hash (edited)', record.seq);
      if (!anchored) {
        anchored = true;
      } else {
        if (record.seq !== expectedSeq)
          report('order', `expected seq ${expectedSeq}, found ${record.seq}`, record.seq);
        if (record.prev !== expectedPrev)
          report(
            'chain',
            'prev does not match the previous record (deleted, inserted or moved lines)',
            record.seq,
          );
      }
      let validCheckpoint = false;
      if (record.type === 'checkpoint') {
        const key = keys.get(record.keyId);
        if (record.upTo !== record.seq - 1 || record.chainHash !== record.prev)
          report('signature', 'checkpoint does not describe the record before it', record.seq);
        else if (!key) report('signature', `checkpoint signed by unknown key ${record.keyId}`, record.seq);
        else if (!checkpointSignatureValid(record, key))
          report('signature', 'checkpoint signature is invalid', record.seq);
        else validCheckpoint = true;
      }
      if (validCheckpoint) {
        lastValidCheckpoint = record as AuditCheckpointRecord;
        firstUnsigned = undefined;
      } else if (firstUnsigned === undefined) {
        firstUnsigned = { seq: record.seq, line, file: source.name };
      }
      lastWasValidCheckpoint = validCheckpoint;
      last = record;
      expectedSeq = record.seq + 1;
      expectedPrev = record.hash;
    });
  });

  if (firstUnsigned !== undefined) {
    const from = firstUnsigned as { seq: number; line: number; file: string };
    problems.push({
      kind: 'unsigned-tail',
      seq: from.seq,
      line: from.line,
      file: from.file,
      message: `records from seq ${from.seq} on are not covered by a signed checkpoint`,
    });
  }
  const lastRecord = last as AuditRecord | undefined;
  const closed = lastWasValidCheckpoint && lastRecord?.type === 'checkpoint' && lastRecord.reason === 'close';
  const endsSigned =
    lastWasValidCheckpoint &&
    lastRecord?.type === 'checkpoint' &&
    (lastRecord.reason === 'close' || lastRecord.reason === 'rotate');
  if (options.requireClosed && !endsSigned) {
    const lastSource = sources.at(-1);
    problems.push({
      kind: 'truncated',
      seq: lastRecord?.seq,
      line: lastSource === undefined ? 0 : splitLines(lastSource.content).length,
      file: lastSource?.name ?? '-',
      message: 'the trail does not end with a close checkpoint (truncated, or still being written)',
    });
  }
  const lastCheckpoint = lastValidCheckpoint as AuditCheckpointRecord | undefined;
  return {
    ok: problems.length === 0,
    records,
    lastCheckpointSeq: lastCheckpoint?.seq,
    closed,
    problems,
  };
}

/** Reads files and verifies them as one trail, in the order given. */
export async function verifyAuditFiles(
  paths: readonly string[],
  options: AuditVerifyOptions,
): Promise<AuditVerifyResult> {
  const sources: AuditTrailSource[] = [];
  for (const path of paths) sources.push({ name: path, content: await readFile(path) });
  return verifyAuditTrail(sources, options);
}
