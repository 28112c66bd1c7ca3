/**
 * `verifyAuditTrail`: checks a trail (one or more files in chain order)
 * without trusting anything in it but the public keys.
 *
 * Per line it checks, in order: the line is UTF-8 JSON ending in a newline,
 * not starting with a byte order mark (`truncated` for an unterminated last
 * line, `malformed` otherwise), has the record shape and is byte-identical to
 * its canonical JSON (`malformed`), `hash` matches its content (`hash`),
 * `seq` follows the previous record (`seq-reused` when it repeats or goes
 * back, `order` when it skips), `prev` is the previous record's hash
 * (`chain`), `time` is not before the previous record's (`time`), and for a
 * checkpoint that `upTo`/`chainHash` describe the preceding record and `sig`
 * verifies under a known key (`signature`). Per file: a `rotate` checkpoint
 * ends its file and a file followed by another ends with one (`rotation`);
 * a file holds something (`empty`), except the last when it is the file
 * just started by the rotation before it.
 *
 * Records after the last valid checkpoint are the unsigned tail: an open
 * trail has one until its next checkpoint, so by default it is a warning
 * with the count; with `requireSigned` or `requireClosed` it is an
 * `unsigned-tail` problem. With `requireClosed`, a trail whose last record is
 * not a valid `close` checkpoint is `truncated`: a `rotate` checkpoint ends a
 * trail only together with the file after it.
 *
 * What it detects: any edit, deletion, insertion or reordering of lines
 * before the last checkpoint, and any change to a checkpoint. What it cannot:
 * removal of whole records at the very end back to an earlier checkpoint,
 * unless `requireClosed` says the trail must end with a close checkpoint
 * (the tier itself refuses to continue a file cut back behind its last
 * checkpoint: see file-audit-trail.ts).
 */

import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ErrorCode } from '../errors.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { auditKeyId, checkpointSignatureValid } from './chain.js';
import { type AuditCheckpointRecord, type AuditRecord, GENESIS_HASH } from './types.js';

export type AuditProblemKind =
  | 'hash'
  | 'chain'
  | 'signature'
  | 'order'
  | 'seq-reused'
  | 'time'
  | 'truncated'
  | 'malformed'
  | 'rotation'
  | 'empty'
  | 'unsigned-tail'
  | 'witness';

/** The stable error code (services/core/errors.ts) of each problem kind. */
export const AUDIT_PROBLEM_CODES: Readonly<Record<AuditProblemKind, ErrorCode>> = {
  hash: 'AUDIT_HASH_MISMATCH',
  chain: 'AUDIT_CHAIN_BROKEN',
  signature: 'AUDIT_SIGNATURE_INVALID',
  order: 'AUDIT_SEQ_GAP',
  'seq-reused': 'AUDIT_SEQ_REUSED',
  time: 'AUDIT_TIME_BACKWARDS',
  truncated: 'AUDIT_TRUNCATED',
  malformed: 'AUDIT_LINE_MALFORMED',
  rotation: 'AUDIT_ROTATION_BROKEN',
  empty: 'AUDIT_EMPTY',
  'unsigned-tail': 'AUDIT_UNSIGNED_TAIL',
  witness: 'AUDIT_WITNESS_MISMATCH',
};

/** One finding. `seq` is the record's claimed seq when it could be read. */
export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** AUDIT_PROBLEM_CODES[kind]. */
  readonly code: ErrorCode;
  readonly seq: number | undefined;
  /** 1-based line number within `file` (0: the file as a whole). */
  readonly line: number;
  /** The source name (file path), when verifying files. */
  readonly file: string;
  readonly message: string;
}

/** Records of an open trail not yet covered by a checkpoint: not (yet) proven, not tampering. */
export interface AuditUnsignedTail {
  /** How many records follow the last valid checkpoint. */
  readonly count: number;
  /** The first of them. */
  readonly seq: number;
  readonly line: number;
  readonly file: string;
}

export interface AuditVerifyResult {
  /** No problems at all (an unsigned tail is a problem only with requireSigned/requireClosed). */
  readonly ok: boolean;
  /** Lines that parsed as records. */
  readonly records: number;
  /** Seq of the last checkpoint with a valid signature, or undefined. */
  readonly lastCheckpointSeq: number | undefined;
  /** The last record is a valid `close` checkpoint. */
  readonly closed: boolean;
  /** Records after the last valid checkpoint, if any. */
  readonly unsignedTail: AuditUnsignedTail | undefined;
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
  /** Report `truncated` unless the trail ends with a valid close checkpoint (implies requireSigned). */
  readonly requireClosed?: boolean;
  /** Report records after the last valid checkpoint as an `unsigned-tail` problem, not a warning. */
  readonly requireSigned?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;
// ignoreBOM keeps a byte order mark in the decoded text instead of silently
// dropping it at the start of each line (finding 10); the line is then malformed.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = 0xfeff;

export interface Line {
  readonly text: string | undefined;
  readonly terminated: boolean;
}

export function splitLines(content: Uint8Array | string): Line[] {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  const lines: Line[] = [];
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

export function shapeOk(value: unknown): value is AuditRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return false;
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return false;
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return false;
  if (typeof r.time !== 'string' || r.v !== 1) return false;
  if (r.type === 'event') return typeof r.event === 'string';
  if (r.type === 'checkpoint')
    return (
      Number.isSafeInteger(r.upTo) &&
      typeof r.chainHash === 'string' &&
      typeof r.sig === 'string' &&
      typeof r.keyId === 'string'
    );
  return false;
}

function isRotate(record: AuditRecord | undefined): boolean {
  return record?.type === 'checkpoint' && record.reason === 'rotate';
}

/** The walk over every line of every source, in order. */
class TrailCheck {
  readonly problems: AuditProblem[] = [];
  records = 0;
  private readonly keys = new Map<string, KeyObject>();
  private expectedSeq = 0;
  private expectedPrev = GENESIS_HASH;
  private maxSeq = -1;
  private lastTime = Number.NEGATIVE_INFINITY;
  private anchored: boolean;
  last: AuditRecord | undefined;
  lastWasValidCheckpoint = false;
  lastValidCheckpoint: AuditCheckpointRecord | undefined;
  unsigned: { seq: number; line: number; file: string; count: number } | undefined;

  constructor(options: AuditVerifyOptions) {
    for (const key of options.publicKeys) this.keys.set(auditKeyId(key), key);
    this.anchored = !options.continued;
  }

  report(file: string, line: number, kind: AuditProblemKind, message: string, seq?: number): void {
    this.problems.push({ kind, code: AUDIT_PROBLEM_CODES[kind], seq, line, file, message });
  }

  /** Checks one source; `lastSource` says whether another file follows it. */
  source(source: AuditTrailSource, lastSource: boolean): void {
    const lines = splitLines(source.content);
    const previous = this.last;
    const recordsBefore = this.records;
    let lastInFile: AuditRecord | undefined;
    lines.forEach((entry, index) => {
      const record = this.line(source.name, index + 1, entry, lastSource && index === lines.length - 1);
      if (record === undefined) return;
      if (isRotate(lastInFile))
        this.report(
          source.name,
          index + 1,
          'rotation',
          'a record follows a rotate checkpoint in the same file',
          record.seq,
        );
      lastInFile = record;
    });
    const validRotateEnd = isRotate(lastInFile) && this.lastWasValidCheckpoint;
    if (!lastSource && !validRotateEnd && this.records > recordsBefore)
      this.report(
        source.name,
        lines.length,
        'rotation',
        'another file follows, but this one does not end with a valid rotate checkpoint',
        lastInFile?.seq,
      );
    if (lines.length === 0) {
      const startedByRotation =
        lastSource && previous !== undefined && isRotate(previous) && this.lastWasValidCheckpoint;
      if (!startedByRotation) this.report(source.name, 0, 'empty', 'the file is empty');
    }
  }

  /** Checks one line; returns the record when it has the record shape. */
  private line(file: string, line: number, entry: Line, isLastLine: boolean): AuditRecord | undefined {
    const report = (kind: AuditProblemKind, message: string, seq?: number) =>
      this.report(file, line, kind, message, seq);
    const { text, terminated } = entry;
    let value: unknown;
    try {
      if (text === undefined) throw new Error('not UTF-8');
      if (text.charCodeAt(0) === BOM) throw new Error('byte order mark');
      value = JSON.parse(text);
    } catch {
      if (isLastLine && !terminated) report('truncated', 'the last line is incomplete');
      else if (text === undefined) report('malformed', 'the line is not valid UTF-8');
      else if (text.charCodeAt(0) === BOM) report('malformed', 'the line starts with a byte order mark');
      else report('malformed', 'the line is not JSON');
      this.lastWasValidCheckpoint = false;
      return undefined;
    }
    if (!terminated) report('truncated', 'the last line has no newline');
    if (!shapeOk(value)) {
      report('malformed', 'the line is not an audit record');
      this.lastWasValidCheckpoint = false;
      return undefined;
    }
    const record = value;
    this.records++;
    if (canonicalJson(record) !== text)
      report('malformed', 'the line is not in canonical form (edited by hand?)', record.seq);
    const { hash, ...withoutHash } = record;
    if (sha256Hex(canonicalJson(withoutHash)) !== hash)
      report('hash', 'the record does not match its hash (edited)', record.seq);
    this.checkPosition(record, report);
    const validCheckpoint = record.type === 'checkpoint' && this.checkpointValid(record, report);
    if (validCheckpoint) {
      this.lastValidCheckpoint = record as AuditCheckpointRecord;
      this.unsigned = undefined;
    } else if (this.unsigned === undefined) this.unsigned = { seq: record.seq, line, file, count: 1 };
    else this.unsigned.count++;
    this.lastWasValidCheckpoint = validCheckpoint;
    this.last = record;
    this.expectedSeq = record.seq + 1;
    this.expectedPrev = record.hash;
    this.maxSeq = Math.max(this.maxSeq, record.seq);
    return record;
  }

  /** seq, prev and time against the record before. */
  private checkPosition(
    record: AuditRecord,
    report: (kind: AuditProblemKind, message: string, seq?: number) => void,
  ): void {
    if (!this.anchored) this.anchored = true;
    else {
      if (record.seq <= this.maxSeq)
        report(
          'seq-reused',
          `seq ${record.seq} again after seq ${this.maxSeq} (replayed, or a cut trail continued)`,
          record.seq,
        );
      else if (record.seq !== this.expectedSeq)
        report('order', `expected seq ${this.expectedSeq}, found ${record.seq}`, record.seq);
      if (record.prev !== this.expectedPrev)
        report(
          'chain',
          'prev does not match the previous record (deleted, inserted or moved lines)',
          record.seq,
        );
    }
    const time = Date.parse(record.time);
    if (Number.isNaN(time)) report('time', 'time is not a timestamp', record.seq);
    else {
      if (time < this.lastTime)
        report(
          'time',
          `time ${record.time} is before the previous record's (the trail's time never goes back)`,
          record.seq,
        );
      this.lastTime = Math.max(this.lastTime, time);
    }
  }

  private checkpointValid(
    record: AuditCheckpointRecord,
    report: (kind: AuditProblemKind, message: string, seq?: number) => void,
  ): boolean {
    const key = this.keys.get(record.keyId);
    if (record.upTo !== record.seq - 1 || record.chainHash !== record.prev)
      report('signature', 'checkpoint does not describe the record before it', record.seq);
    else if (!key) report('signature', `checkpoint signed by unknown key ${record.keyId}`, record.seq);
    else if (!checkpointSignatureValid(record, key))
      report('signature', 'checkpoint signature is invalid', record.seq);
    else return true;
    return false;
  }
}

/** Verifies a trail given as text/bytes of one file, or as several files in chain order. */
export function verifyAuditTrail(
  input: string | Uint8Array | readonly AuditTrailSource[],
  options: AuditVerifyOptions,
): AuditVerifyResult {
  const sources: readonly AuditTrailSource[] =
    typeof input === 'string' || input instanceof Uint8Array ? [{ name: '-', content: input }] : input;
  const check = new TrailCheck(options);
  for (const [index, source] of sources.entries()) check.source(source, index === sources.length - 1);
  const lastSource = sources.at(-1);
  const endLine = lastSource === undefined ? 0 : splitLines(lastSource.content).length;
  const lastFile = lastSource?.name ?? '-';
  if (sources.length === 0 || (check.records === 0 && check.problems.length === 0))
    check.report(lastFile, 0, 'empty', 'the trail holds no records');

  const unsigned = check.unsigned;
  if (unsigned !== undefined && (options.requireSigned || options.requireClosed))
    check.report(
      unsigned.file,
      unsigned.line,
      'unsigned-tail',
      `${unsigned.count} record${unsigned.count === 1 ? '' : 's'} from seq ${unsigned.seq} on ${unsigned.count === 1 ? 'is' : 'are'} not covered by a signed checkpoint`,
      unsigned.seq,
    );
  const last = check.last;
  const closed = check.lastWasValidCheckpoint && last?.type === 'checkpoint' && last.reason === 'close';
  if (options.requireClosed && !closed)
    check.report(
      lastFile,
      endLine,
      'truncated',
      isRotate(last) && check.lastWasValidCheckpoint
        ? 'the trail ends with a rotate checkpoint: the file that follows it is missing'
        : 'the trail does not end with a close checkpoint (truncated, or still being written)',
      last?.seq,
    );
  return {
    ok: check.problems.length === 0,
    records: check.records,
    lastCheckpointSeq: check.lastValidCheckpoint?.seq,
    closed,
    unsignedTail: unsigned,
    problems: check.problems,
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
