/**
 * Reopening a trail: where its chain stands, and whether the files still
 * hold the last checkpoint the tier wrote (finding 4 of the security review).
 *
 * The head file (`auditHeadPath`) is written by the tier next to the trail:
 * after each checkpoint is on stable storage it records that checkpoint's
 * seq and hash (and for a new trail, seq -1 and the genesis hash). On reopen
 * the trail's last file must hold that checkpoint, or begin right after it
 * (the file started by a rotation), and every record after it must chain
 * onto it; otherwise the file was cut back behind its last checkpoint,
 * replaced or removed, and the tier refuses to continue it with
 * AUDIT_TAIL_MISMATCH instead of reusing seq numbers over the missing
 * records. Records after the last checkpoint are unsigned: cutting some of
 * them is not detected here (see docs/audit.md, "What reopening detects").
 */
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { type ChainHead, headAfter } from './chain.js';
import type { AuditStorage } from './file-sink.js';
import { type AuditRecord, GENESIS_HASH } from './types.js';

/** The head file of the trail at `path`: hidden, so `path.*` globs of rotated files never include it. */
export function auditHeadPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.head`);
}

/** The last checkpoint written, as the head file records it. */
export interface TrailAnchor {
  readonly seq: number;
  readonly hash: string;
}

/** The head file's bytes for `anchor`. */
export function headFileContent(anchor: TrailAnchor): Buffer {
  return Buffer.from(`${canonicalJson({ hash: anchor.hash, seq: anchor.seq, v: 1 })}\n`, 'utf8');
}

/** Where a reopened trail continues. */
export interface ReopenedTrail {
  readonly head: ChainHead;
  /** Time of the last record (ms since the epoch): the trail's time never goes back behind it. */
  readonly lastTimeMs: number;
  /** `path` ends with an unterminated line (a crash mid-write). */
  readonly partialTail: boolean;
  /** No head file and no records: a new trail, whose head file is still to be written. */
  readonly fresh: boolean;
  /**
   * `path` itself ends with a rotate checkpoint: the tier stopped between the
   * checkpoint and the rename, which the opener completes before continuing.
   */
  readonly unfinishedRotation: { readonly seq: number } | undefined;
}

const TAIL_WINDOW = 64 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
// ignoreBOM: a byte order mark is kept, so such a line is no record (as in verify.ts).
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The complete record lines of `text`, in file order; the first part is skipped unless it starts the file. */
function recordsIn(text: string, fromFileStart: boolean): AuditRecord[] {
  const parts = text.split('\n');
  parts.pop(); // after the last newline: empty, or an unterminated line
  const records: AuditRecord[] = [];
  for (let i = fromFileStart ? 0 : 1; i < parts.length; i++) {
    try {
      const value = JSON.parse(parts[i]!) as Partial<AuditRecord>;
      if (
        Number.isSafeInteger(value.seq) &&
        typeof value.hash === 'string' &&
        HEX64.test(value.hash) &&
        typeof value.prev === 'string'
      )
        records.push(value as AuditRecord);
    } catch {
      // not a record (a torn line left as evidence): skip it
    }
  }
  return records;
}

interface TailScan {
  readonly records: readonly AuditRecord[];
  readonly reachedStart: boolean;
  readonly partialTail: boolean;
}

/** Reads `path` backwards until it holds a record with seq <= `untilSeq`, or to its start. */
async function scanBack(storage: AuditStorage, path: string, untilSeq: number): Promise<TailScan> {
  const size = (await storage.size(path)) ?? 0;
  if (size === 0) return { records: [], reachedStart: true, partialTail: false };
  for (let window = Math.min(size, TAIL_WINDOW); ; window = Math.min(size, window * 4)) {
    const text = decoder.decode(await storage.read(path, size - window, window));
    const records = recordsIn(text, window === size);
    if (window === size || records.some((r) => r.seq <= untilSeq))
      return { records, reachedStart: window === size, partialTail: !text.endsWith('\n') };
  }
}

async function newestRotated(storage: AuditStorage, path: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await storage.list(dirname(path));
  } catch {
    return undefined;
  }
  const prefix = `${basename(path)}.`;
  const rotated = names.filter((n) => n.startsWith(prefix) && /^\d{12}$/.test(n.slice(prefix.length))).sort();
  const newest = rotated.at(-1);
  return newest === undefined ? undefined : join(dirname(path), newest);
}

async function readAnchor(storage: AuditStorage, path: string): Promise<TrailAnchor | undefined> {
  const size = await storage.size(path);
  if (size === undefined) return undefined;
  const text = decoder.decode(await storage.read(path, 0, Math.min(size, 4096)));
  try {
    const value = JSON.parse(text) as Partial<TrailAnchor>;
    if (
      Number.isSafeInteger(value.seq) &&
      (value.seq as number) >= -1 &&
      typeof value.hash === 'string' &&
      HEX64.test(value.hash) &&
      text === headFileContent(value as TrailAnchor).toString('utf8')
    )
      return { seq: value.seq as number, hash: value.hash };
  } catch {
    // reported below
  }
  throw mismatch(path, 'the head file is not readable');
}

function mismatch(path: string, why: string): AirlockError {
  return new AirlockError(
    'AUDIT_TAIL_MISMATCH',
    'audit trail does not end where its last checkpoint left it; refusing to continue it',
    {
      detail:
        `${path}: ${why}. The trail may have been cut back, replaced or removed: check it with ` +
        '`airlock audit verify`, keep it as evidence, and to start a new chain move the trail, its rotated ' +
        'files and its head file aside (docs/audit.md, "What reopening detects").',
    },
  );
}

/** Checks that `scan` holds `anchor` (or starts right after it) and that every record after it chains on. */
function checkAnchored(file: string, scan: TailScan, anchor: TrailAnchor): void {
  const { records } = scan;
  let at = records.findLastIndex((r) => r.seq <= anchor.seq);
  if (at >= 0) {
    const found = records[at]!;
    if (found.seq !== anchor.seq)
      throw mismatch(
        file,
        `its last record before seq ${anchor.seq} is seq ${found.seq}, but the head file records a checkpoint at seq ${anchor.seq}`,
      );
    if (found.hash !== anchor.hash)
      throw mismatch(file, `record seq ${anchor.seq} is not the checkpoint the head file records`);
  } else {
    const first = records[0];
    if (first === undefined) {
      if (anchor.seq === -1) return;
      throw mismatch(
        file,
        `it holds no records, but the head file records a checkpoint at seq ${anchor.seq}`,
      );
    }
    if (!scan.reachedStart || first.seq !== anchor.seq + 1 || first.prev !== anchor.hash)
      throw mismatch(
        file,
        `it does not continue from the checkpoint at seq ${anchor.seq} the head file records`,
      );
    at = 0;
  }
  for (let i = at + 1; i < records.length; i++) {
    const before = records[i - 1]!;
    if (records[i]!.seq !== before.seq + 1 || records[i]!.prev !== before.hash)
      throw mismatch(
        file,
        `the records after seq ${anchor.seq} do not chain onto it (at seq ${records[i]!.seq})`,
      );
  }
}

/**
 * Finds where the trail at `path` continues (its last record, in `path` or,
 * when `path` is missing or empty, in the newest rotated file) and checks it
 * against the head file. Rejects with AUDIT_TAIL_MISMATCH when they disagree;
 * any other rejection is an I/O failure.
 */
export async function reopenAuditTrail(storage: AuditStorage, path: string): Promise<ReopenedTrail> {
  const headPath = auditHeadPath(path);
  const anchor = await readAnchor(storage, headPath);
  const untilSeq = anchor?.seq ?? Number.POSITIVE_INFINITY;
  let file = path;
  let scan = await scanBack(storage, path, untilSeq);
  const partialTail = scan.partialTail;
  if (scan.records.length === 0 && ((await storage.size(path)) ?? 0) > 0)
    throw new Error(`${path} holds no complete audit record to continue from`);
  if (scan.records.length === 0) {
    const rotated = await newestRotated(storage, path);
    if (rotated !== undefined) {
      file = rotated;
      scan = await scanBack(storage, rotated, untilSeq);
    }
  }
  const last = scan.records.at(-1);
  if (anchor === undefined) {
    if (last !== undefined) throw mismatch(headPath, `the head file is missing, but ${file} holds records`);
    return {
      head: { nextSeq: 0, prev: GENESIS_HASH },
      lastTimeMs: Number.NEGATIVE_INFINITY,
      partialTail,
      fresh: true,
      unfinishedRotation: undefined,
    };
  }
  checkAnchored(file, scan, anchor);
  const lastTimeMs = last === undefined ? Number.NEGATIVE_INFINITY : Date.parse(last.time);
  return {
    head: last === undefined ? { nextSeq: 0, prev: GENESIS_HASH } : headAfter(last),
    lastTimeMs: Number.isNaN(lastTimeMs) ? Number.NEGATIVE_INFINITY : lastTimeMs,
    partialTail,
    fresh: false,
    unfinishedRotation:
      file === path && last?.type === 'checkpoint' && last.reason === 'rotate'
        ? { seq: last.seq }
        : undefined,
  };
}
