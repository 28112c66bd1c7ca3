/**
 * Rebuilding trails from the collector's exported OTLP/JSON: byte equality
 * with the tier's files (rotation included), at-least-once duplicates
 * dropped, forks kept for verify to report, and the parser never throws.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { otlpLogsRequest } from './otlp-ack-storage.js';
import { assembleShippedTrails, parseShippedLogs } from './shipped-trail.js';
import { testAuditKeys } from './testing.js';
import { verifyAuditTrail } from './verify.js';

const keys = testAuditKeys();
let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

/** A closed trail rotated at least twice; its files, oldest first, by name. */
async function rotatedTrail(): Promise<Map<string, Buffer>> {
  const path = dir.path('mediator.jsonl');
  const trail = await createFileAuditTrail({
    path,
    tier: 'mediator',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery: 4,
    maxBytes: 4000,
    fsync: false,
  });
  for (let i = 0; i < 40; i++) await trail.append(sampleEvent(i), { durable: i % 5 === 0 });
  await trail.close();
  const names = readdirSync(dir.path('')).filter((n) => /^mediator\.jsonl(\.\d{12})?$/.test(n));
  names.sort((a, b) => (a === 'mediator.jsonl' ? 1 : b === 'mediator.jsonl' ? -1 : a < b ? -1 : 1));
  return new Map(names.map((name) => [name, readFileSync(dir.path(name))]));
}

function linesOf(bytes: Buffer): string[] {
  return bytes.toString('utf8').split('\n').slice(0, -1);
}

describe('assembleShippedTrails', () => {
  it('rebuilds every file of a rotated trail byte for byte from OTLP batches, some sent twice', async () => {
    const files = await rotatedTrail();
    expect(files.size).toBeGreaterThanOrEqual(3);
    // What the collector exported: each file's lines in batches of 3, under
    // the rotated file's own name, and the first batches sent twice (a retry).
    const exported: string[] = [];
    for (const [name, bytes] of files) {
      const lines = linesOf(bytes);
      for (let i = 0; i < lines.length; i += 3)
        exported.push(otlpLogsRequest('pod-a', name, lines.slice(i, i + 3)));
    }
    exported.splice(2, 0, exported[0]!, exported[1]!);
    const parsed = parseShippedLogs(`${exported.join('\n')}\n`);
    expect(parsed.problems).toEqual([]);
    const collected = assembleShippedTrails(parsed.lines);
    expect(collected.map((f) => f.name)).toEqual([...files.keys()]);
    for (const file of collected) {
      expect(file.trail).toBe('pod-a/mediator.jsonl');
      expect(file.bytes.equals(files.get(file.name)!)).toBe(true);
    }
    const result = verifyAuditTrail(
      collected.map((f) => ({ name: f.name, content: f.bytes })),
      { publicKeys: [keys.publicKey], continued: false, requireClosed: true, requireSigned: true },
    );
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('keeps trails of different pods apart, and keeps both lines of a forked seq so verify fails', async () => {
    const lines = linesOf((await rotatedTrail()).get('mediator.jsonl')!);
    const forged = lines[1]!.replace('"alice"', '"mallory"');
    const parsed = parseShippedLogs(
      [
        otlpLogsRequest('pod-a', 'mediator.jsonl', lines),
        otlpLogsRequest('pod-b', 'mediator.jsonl', lines.slice(0, 2)),
        otlpLogsRequest('pod-a', 'mediator.jsonl', [forged]),
      ].join('\n'),
    );
    const collected = assembleShippedTrails(parsed.lines);
    expect(collected.map((f) => f.trail)).toEqual(['pod-a/mediator.jsonl', 'pod-b/mediator.jsonl']);
    expect(linesOf(collected[0]!.bytes)).toEqual([lines[0], lines[1], forged, ...lines.slice(2)]);
    const result = verifyAuditTrail([{ name: 'a', content: collected[0]!.bytes }], {
      publicKeys: [keys.publicKey],
      continued: true,
      requireClosed: false,
      requireSigned: false,
    });
    expect(result.ok).toBe(false);
  });
});

describe('parseShippedLogs', () => {
  it('reports lines that are not OTLP/JSON logs and records without a string body', () => {
    const parsed = parseShippedLogs(
      'not json\n{"resourceSpans":[]}\n{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":"1"}}]}]}]}\n',
    );
    expect(parsed.lines).toEqual([]);
    expect(parsed.problems).toEqual([
      { line: 1, reason: 'not JSON' },
      { line: 2, reason: 'not an OTLP/JSON logs request' },
      { line: 3, reason: 'a log record without a string body' },
    ]);
  });

  it('never throws on arbitrary text or JSON, and every body it returns is a string', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ resourceLogs: [v] })),
        ),
        (text) => {
          const parsed = parseShippedLogs(text);
          for (const line of parsed.lines) expect(typeof line.line).toBe('string');
          expect(() => assembleShippedTrails(parsed.lines)).not.toThrow();
        },
      ),
    );
  });
});
