/**
 * Pure: turns what the OpenTelemetry Collector's file exporter wrote (one
 * OTLP/JSON `ExportLogsServiceRequest` per line, docs/audit-shipping.md) back
 * into trail files whose bytes equal the tier's own, so `airlock audit verify`
 * checks the shipped copy exactly as it checks the local one.
 *
 * Each log record's body is one trail line, without its newline: the filelog
 * receiver tails the trail files, and in the off-pod ack mode the tier sends
 * the same lines itself over OTLP/HTTP (otlp-ack-storage.ts). A trail is named
 * by the resource attribute `airlock.trail` (the pod) and the log attribute
 * `log.file.name` without a rotation suffix, so the rotated files of one trail
 * and both paths into the collector land in one trail.
 *
 * Delivery is at least once (a collector restart or a retried request may
 * repeat lines): a line identical to one already taken is dropped. Lines are
 * put in chain order by their `seq`; two different lines with the same seq
 * are both kept, and verify reports them (a tampered or forked trail is never
 * hidden by collecting). The output is split after each `rotate` checkpoint,
 * as the tier splits its files, because verify refuses a record after a
 * rotate checkpoint in the same file.
 */

/** Resource attribute naming the trail's origin (the pod); set by the collector config and by the ack shipper. */
export const TRAIL_RESOURCE_ATTRIBUTE = 'airlock.trail';
/** Log attribute naming the trail file (the filelog receiver's own attribute). */
export const TRAIL_FILE_ATTRIBUTE = 'log.file.name';

/** One trail line found in the exporter's output. */
export interface ShippedLine {
  /** `<airlock.trail>/<file name without rotation suffix>`. */
  readonly trail: string;
  /** The trail line, without newline. */
  readonly line: string;
}

/** A line of the exporter's file that is not OTLP/JSON logs, by 1-based line number. */
export interface ShippedProblem {
  readonly line: number;
  readonly reason: string;
}

/** One reconstructed file of a trail: `name` is the trail's file name, plus `.<seq12>` for a rotated one. */
export interface CollectedFile {
  readonly trail: string;
  readonly name: string;
  readonly bytes: Buffer;
}

type Json = Record<string, unknown>;

const ROTATED_SUFFIX = /\.\d{12}$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function stringAttribute(attributes: unknown, key: string): string | undefined {
  for (const attribute of array(attributes)) {
    if (isObject(attribute) && attribute.key === key && isObject(attribute.value)) {
      const value = attribute.value.stringValue;
      if (typeof value === 'string') return value;
    }
  }
  return undefined;
}

/**
 * Reads the trail lines out of one exporter file. Lines that are not JSON, or
 * log records without a string body, are reported, never guessed at.
 */
export function parseShippedLogs(text: string): { lines: ShippedLine[]; problems: ShippedProblem[] } {
  const lines: ShippedLine[] = [];
  const problems: ShippedProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw === '') return;
    let request: unknown;
    try {
      request = JSON.parse(raw);
    } catch {
      problems.push({ line: index + 1, reason: 'not JSON' });
      return;
    }
    if (!isObject(request) || !Array.isArray(request.resourceLogs)) {
      problems.push({ line: index + 1, reason: 'not an OTLP/JSON logs request' });
      return;
    }
    for (const resourceLogs of request.resourceLogs) {
      if (!isObject(resourceLogs)) continue;
      const resource = isObject(resourceLogs.resource) ? resourceLogs.resource : {};
      const origin = stringAttribute(resource.attributes, TRAIL_RESOURCE_ATTRIBUTE) ?? 'unknown';
      for (const scopeLogs of array(resourceLogs.scopeLogs)) {
        for (const record of array(isObject(scopeLogs) ? scopeLogs.logRecords : undefined)) {
          const body = isObject(record) && isObject(record.body) ? record.body.stringValue : undefined;
          if (typeof body !== 'string') {
            problems.push({ line: index + 1, reason: 'a log record without a string body' });
            continue;
          }
          const file = stringAttribute((record as Json).attributes, TRAIL_FILE_ATTRIBUTE) ?? 'trail';
          lines.push({ trail: `${origin}/${file.replace(ROTATED_SUFFIX, '')}`, line: body });
        }
      }
    }
  });
  return { lines, problems };
}

interface Ordered {
  readonly line: string;
  /** The record's seq, or for an unparseable line the seq of the line before it in arrival order. */
  readonly seq: number;
  readonly arrival: number;
  readonly endsFile: boolean;
}

function order(lines: readonly string[]): Ordered[] {
  const seen = new Set<string>();
  const ordered: Ordered[] = [];
  let lastSeq = -1;
  for (const line of lines) {
    if (seen.has(line)) continue;
    seen.add(line);
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    const seq = isObject(record) && Number.isSafeInteger(record.seq) ? (record.seq as number) : lastSeq;
    lastSeq = seq;
    const endsFile = isObject(record) && record.type === 'checkpoint' && record.reason === 'rotate';
    ordered.push({ line, seq, arrival: ordered.length, endsFile });
  }
  return ordered.sort((a, b) => a.seq - b.seq || a.arrival - b.arrival);
}

/**
 * Rebuilds every trail's files from the shipped lines (in arrival order,
 * across all exporter files). Files of one trail come oldest first; the last
 * is named like the tier's active file.
 */
export function assembleShippedTrails(lines: readonly ShippedLine[]): CollectedFile[] {
  const byTrail = new Map<string, string[]>();
  for (const { trail, line } of lines) {
    const list = byTrail.get(trail) ?? [];
    list.push(line);
    byTrail.set(trail, list);
  }
  const files: CollectedFile[] = [];
  for (const [trail, trailLines] of [...byTrail].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const base = trail.slice(trail.lastIndexOf('/') + 1);
    let segment: string[] = [];
    for (const entry of order(trailLines)) {
      segment.push(entry.line);
      if (entry.endsFile) {
        files.push({
          trail,
          name: `${base}.${String(entry.seq).padStart(12, '0')}`,
          bytes: joinLines(segment),
        });
        segment = [];
      }
    }
    if (segment.length > 0 || files.at(-1)?.trail !== trail)
      files.push({ trail, name: base, bytes: joinLines(segment) });
  }
  return files;
}

function joinLines(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
}
