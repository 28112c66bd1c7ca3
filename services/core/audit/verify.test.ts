/**
 * The verifier detects each kind of tampering, and (property-based) every
 * random trail verifies while any single-byte change to it does not.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { sealCheckpoint, sealEvent } from './chain.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { CrashableAuditStorage, testAuditKeys } from './testing.js';
import type { AuditEventInput, AuditRecord } from './types.js';
import { verifyAuditTrail } from './verify.js';

const keys = testAuditKeys();
const otherKeys = testAuditKeys();
const publicKeys = [keys.publicKey];
let dir: ReturnType<typeof tempDir>;
let fileNo = 0;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

/** Writes a closed trail of `events` (checkpoint every 3) and returns its lines without the final newline. */
async function writeTrail(events: readonly AuditEventInput[], checkpointEvery = 3): Promise<string[]> {
  const path = dir.path(`t${fileNo++}.jsonl`);
  const trail = await createFileAuditTrail({
    path,
    tier: 'mediator',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery,
    fsync: false,
  });
  for (const event of events) await trail.append(event);
  await trail.close();
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

const join = (lines: readonly string[]) => `${lines.join('\n')}\n`;
const kinds = (lines: readonly string[], options = {}) =>
  verifyAuditTrail(join(lines), { publicKeys, ...options }).problems.map((p) => p.kind);
const parse = (line: string | undefined) => JSON.parse(line ?? '') as AuditRecord;

/** Re-seals records from `from` on so hashes and prev links are self-consistent (an attacker without the key). */
function rechain(lines: string[], from: number): string[] {
  const out = lines.slice(0, from);
  for (let i = from; i < lines.length; i++) {
    const record = parse(lines[i]);
    const before = out.length === 0 ? undefined : parse(out.at(-1));
    const head = { nextSeq: before ? before.seq + 1 : 0, prev: before ? before.hash : '0'.repeat(64) };
    if (record.type === 'event') {
      const { type: _t, seq: _s, prev: _p, hash: _h, ...event } = record;
      out.push(sealEvent(head, event).line);
    } else {
      const { hash: _h, ...rest } = { ...record, seq: head.nextSeq, prev: head.prev };
      out.push(canonicalJson({ ...rest, hash: sha256Hex(canonicalJson(rest)) }));
    }
  }
  return out;
}

describe('verifyAuditTrail', () => {
  let lines: string[];
  beforeAll(async () => {
    // seq: 0 1 2 [3 cp] 4 5 6 [7 cp] 8 9 [10 close]
    lines = await writeTrail(Array.from({ length: 8 }, (_, i) => sampleEvent(i)));
    expect(lines.map((l) => parse(l).type)).toEqual([
      ...['event', 'event', 'event', 'checkpoint', 'event', 'event', 'event', 'checkpoint'],
      ...['event', 'event', 'checkpoint'],
    ]);
  });

  it('accepts an untouched trail', () => {
    expect(verifyAuditTrail(join(lines), { publicKeys })).toEqual({
      ok: true,
      records: 11,
      lastCheckpointSeq: 10,
      closed: true,
      problems: [],
    });
  });

  it('detects a deleted line', () => {
    const result = verifyAuditTrail(join(lines.toSpliced(2, 1)), { publicKeys });
    expect(result.problems.map((p) => [p.kind, p.seq, p.line])).toEqual([
      ['order', 3, 3],
      ['chain', 3, 3],
    ]);
  });

  it('detects an edited field, and a re-hashed edit at the next link', () => {
    const edited = lines.with(1, (lines[1] ?? '').replace('"user":"alice"', '"user":"bob"'));
    expect(edited[1]).not.toBe(lines[1]);
    expect(kinds(edited)).toEqual(['hash']);
    // The attacker also fixes this record's hash: the next record's prev no longer matches.
    const record = parse(edited[1]);
    const { hash: _h, ...rest } = record;
    const rehashed = edited.with(1, canonicalJson({ ...rest, hash: sha256Hex(canonicalJson(rest)) }));
    expect(kinds(rehashed)).toEqual(['chain']);
    // The attacker rewrites the whole chain after it: the next checkpoint's signature fails.
    const rewritten = rechain(rehashed, 2);
    const result = verifyAuditTrail(join(rewritten), { publicKeys, requireSigned: true });
    expect(result.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['signature', 3],
      ['signature', 7],
      ['signature', 10],
      ['unsigned-tail', 0],
    ]);
  });

  it('detects two swapped lines', () => {
    const swapped = lines.with(1, lines[2] ?? '').with(2, lines[1] ?? '');
    expect(kinds(swapped)).toEqual(['order', 'chain', 'seq-reused', 'chain', 'time', 'order', 'chain']);
  });

  it('detects an inserted, correctly sealed forged line', () => {
    const after = parse(lines[4]);
    const forged = sealEvent(
      { nextSeq: after.seq + 1, prev: after.hash },
      { v: 1, time: after.time, tier: 'mediator', event: 'session.closed', actor: {}, target: {} },
    ).line;
    const result = verifyAuditTrail(join(lines.toSpliced(5, 0, forged)), { publicKeys });
    expect(result.problems.map((p) => [p.kind, p.code, p.line])).toEqual([
      ['seq-reused', 'AUDIT_SEQ_REUSED', 7],
      ['chain', 'AUDIT_CHAIN_BROKEN', 7],
    ]);
  });

  it('reports records after the last checkpoint as an unsigned tail: a warning, a problem when required signed', () => {
    const cut = lines.slice(0, 9); // ends with seq 8, after checkpoint 7
    const result = verifyAuditTrail(join(cut), { publicKeys });
    expect(result).toMatchObject({ ok: true, lastCheckpointSeq: 7, closed: false });
    expect(result.unsignedTail).toEqual({ count: 1, seq: 8, line: 9, file: '-' });
    const signed = verifyAuditTrail(join(cut), { publicKeys, requireSigned: true });
    expect(signed.problems.map((p) => [p.kind, p.code, p.seq, p.line])).toEqual([
      ['unsigned-tail', 'AUDIT_UNSIGNED_TAIL', 8, 9],
    ]);
    expect(kinds(cut, { requireClosed: true })).toEqual(['unsigned-tail', 'truncated']);
  });

  it('detects a cut exactly at a checkpoint only as "not closed", and as truncated with requireClosed', () => {
    const cut = lines.slice(0, 8); // ends with the interval checkpoint at seq 7
    expect(verifyAuditTrail(join(cut), { publicKeys })).toMatchObject({ ok: true, closed: false });
    expect(kinds(cut, { requireClosed: true })).toEqual(['truncated']);
    expect(kinds(lines, { requireClosed: true })).toEqual([]);
  });

  it('detects a line cut in the middle as truncated', () => {
    const text = join(lines);
    const result = verifyAuditTrail(text.slice(0, text.length - 40), { publicKeys });
    expect(result.problems.map((p) => p.kind)).toEqual(['truncated']);
    expect(result.unsignedTail).toMatchObject({ count: 2, seq: 8 });
  });

  it('detects a checkpoint re-signed with another key, under its own or the original keyId', () => {
    // The final (close) checkpoint, so no later record links to it.
    const checkpoint = parse(lines[10]);
    if (checkpoint.type !== 'checkpoint') throw new Error('expected a checkpoint');
    const head = { nextSeq: checkpoint.seq, prev: checkpoint.prev };
    const input = { time: checkpoint.time, tier: checkpoint.tier, reason: checkpoint.reason };
    const ownId = sealCheckpoint(head, {
      ...input,
      signingKey: otherKeys.privateKey,
      keyId: `ed25519:${'f'.repeat(32)}`,
    });
    const stolenId = sealCheckpoint(head, {
      ...input,
      signingKey: otherKeys.privateKey,
      keyId: checkpoint.keyId,
    });
    for (const forged of [ownId.line, stolenId.line]) {
      const result = verifyAuditTrail(join(lines.with(10, forged)), { publicKeys, requireSigned: true });
      expect(result.problems.map((p) => [p.kind, p.seq])).toEqual([
        ['signature', 10],
        ['unsigned-tail', 8],
      ]);
      expect(result).toMatchObject({ lastCheckpointSeq: 7, closed: false });
    }
    // Not trusting the signer's key at all fails every checkpoint.
    expect(kinds(lines).length).toBe(0);
    expect(
      verifyAuditTrail(join(lines), { publicKeys: [otherKeys.publicKey] }).problems.map((p) => p.kind),
    ).toEqual(['signature', 'signature', 'signature']);
  });

  it('reports a line that is not JSON or not a record as malformed', () => {
    expect(kinds(lines.toSpliced(5, 0, 'hello'))).toEqual(['malformed']);
    expect(kinds(lines.toSpliced(5, 0, '{"seq":1}'))).toEqual(['malformed']);
  });
});

describe('files and rotation', () => {
  async function rotatedTrail(name: string): Promise<{ rotated: string; active: string; path: string }> {
    const path = dir.path(name);
    const storage = new CrashableAuditStorage();
    const trail = await createFileAuditTrail({
      path,
      tier: 'mediator',
      signingKey: keys.privateKey,
      clock: steppingClock(),
      checkpointEvery: 100,
      fsync: false,
      storage,
    });
    await trail.append(sampleEvent(0));
    await trail.rotate();
    await storage.crash(); // left open, as by a tier that died after rotating
    const rotated = trail.rotatedFiles()[0]!;
    return {
      rotated: readFileSync(rotated, 'utf8'),
      active: readFileSync(path, 'utf8'),
      path,
    };
  }
  const verifyFiles = (contents: readonly string[], options = {}) =>
    verifyAuditTrail(
      contents.map((content, i) => ({ name: `f${i}`, content })),
      { publicKeys, ...options },
    );

  it('accepts the empty file a rotation just started, but no other empty file', async () => {
    const { rotated, active } = await rotatedTrail('just-rotated.jsonl');
    expect(active).toBe('');
    expect(verifyFiles([rotated, active]).problems).toEqual([]);
    expect(verifyFiles([rotated, active], { requireClosed: true }).problems.map((p) => p.kind)).toEqual([
      'truncated',
    ]);
    expect(verifyFiles(['', rotated], { continued: true }).problems.map((p) => [p.kind, p.file])).toEqual([
      ['empty', 'f0'],
    ]);
    expect(verifyAuditTrail([], { publicKeys }).problems.map((p) => p.kind)).toEqual(['empty']);
  });

  it('reports a file followed by another that does not end with a rotate checkpoint, and records after one', async () => {
    const lines = await writeTrail([sampleEvent(0), sampleEvent(1)], 100); // event, event, close
    const first = `${lines.slice(0, 1).join('\n')}\n`;
    const rest = `${lines.slice(1).join('\n')}\n`;
    expect(verifyFiles([first, rest]).problems.map((p) => [p.kind, p.code, p.file])).toEqual([
      ['rotation', 'AUDIT_ROTATION_BROKEN', 'f0'],
    ]);
    const { rotated } = await rotatedTrail('glued.jsonl');
    const glued = JSON.parse(rotated.trimEnd().split('\n').at(-1) ?? '') as AuditRecord;
    const after = sealEvent(
      { nextSeq: glued.seq + 1, prev: glued.hash },
      { ...sampleEvent(1), v: 1, time: glued.time, tier: 'mediator' },
    ).line;
    expect(kinds([...rotated.trimEnd().split('\n'), after])).toEqual(['rotation']);
  });
});

describe('canonical form', () => {
  it('rejects \\u001B where the writer wrote \\u001b although both parse the same', async () => {
    const lines = await writeTrail([{ event: 'exec.started', actor: {}, target: { argv: ['\u001b[0m'] } }]);
    const variant = lines.with(0, (lines[0] ?? '').replace('\\u001b', '\\u001B'));
    expect(JSON.parse(variant[0] ?? '')).toEqual(JSON.parse(lines[0] ?? ''));
    expect(kinds(variant)).toEqual(['malformed']);
  });
});

const text = fc.string({ unit: 'binary', maxLength: 12 });
const eventArb: fc.Arbitrary<AuditEventInput> = fc.record(
  {
    event: fc.constantFrom('exec.started', 'intent.denied', 'session.opened', 'portforward.opened' as const),
    actor: fc.record({ user: text, groups: fc.array(text, { maxLength: 3 }) }, { requiredKeys: [] }),
    target: fc.record(
      { pod: text, argv: fc.array(text, { maxLength: 4 }), port: fc.integer({ min: 0, max: 65535 }) },
      { requiredKeys: [] },
    ),
    decision: fc.constantFrom('allow', 'deny' as const),
    reason: text,
    details: fc.dictionary(text, fc.oneof(fc.integer(), fc.double(), text, fc.boolean()), { maxKeys: 3 }),
  },
  { requiredKeys: ['event', 'actor', 'target'] },
) as fc.Arbitrary<AuditEventInput>;

describe('properties', () => {
  it('any sequence of events with any checkpoint interval verifies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArb, { maxLength: 15 }),
        fc.integer({ min: 1, max: 5 }),
        async (events, every) => {
          const trailLines = await writeTrail(events, every);
          const result = verifyAuditTrail(join(trailLines), { publicKeys, requireClosed: true });
          expect(result.problems).toEqual([]);
          expect(result.records).toBe(trailLines.length);
          expect(result.closed).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('any single-byte change anywhere in the file is detected', async () => {
    const trails = [
      join(await writeTrail(Array.from({ length: 5 }, (_, i) => sampleEvent(i)))),
      join(
        await writeTrail([
          { event: 'exec.started', actor: { user: 'é\u001b😀' }, target: { argv: ['\u009b', '\u202e'] } },
          { event: 'exec.exited', actor: {}, target: {}, details: { exit_code: -1, ratio: 0.5 } },
        ]),
      ),
    ];
    for (const original of trails) {
      const bytes = Buffer.from(original, 'utf8');
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: bytes.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          async (at, delta) => {
            const changed = Buffer.from(bytes);
            changed[at] = ((changed[at] ?? 0) + delta) % 256;
            expect(verifyAuditTrail(changed, { publicKeys }).ok).toBe(false);
          },
        ),
        { numRuns: 1500 },
      );
    }
  });

  it('flipping the low bit of each byte of a small trail, one at a time, is always detected', async () => {
    const bytes = Buffer.from(
      join(await writeTrail([{ event: 'exec.started', actor: { user: 'a' }, target: { argv: ['\u001b'] } }])),
    );
    const undetected: number[] = [];
    for (let at = 0; at < bytes.length; at++) {
      const changed = Buffer.from(bytes);
      changed[at] = (changed[at] ?? 0) ^ 1;
      if (verifyAuditTrail(changed, { publicKeys }).ok) undetected.push(at);
    }
    expect(undetected).toEqual([]);
  });
});
