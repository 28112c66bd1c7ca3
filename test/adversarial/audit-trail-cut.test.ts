/**
 * Findings 4 and 10 of the outside security review (issue 16): cutting the
 * end off a trail went undetected, and a byte order mark at the start of a
 * line was silently dropped by `audit verify`.
 *
 * The attacker here can write the trail's files but does not hold the
 * signing key. What stays out of reach without a witness outside the host
 * (cuts inside the unsigned tail, or a cut whose head file is rolled back
 * too) is listed in docs/audit.md, "What reopening detects".
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from '../../services/core/audit/audit-test-helpers.js';
import { headAfter, sealCheckpoint, sealEvent } from '../../services/core/audit/chain.js';
import {
  auditHeadPath,
  auditKeyId,
  createFileAuditTrail,
  GENESIS_HASH,
  verifyAuditFiles,
  verifyAuditTrail,
} from '../../services/core/audit/index.js';
import { testAuditKeys } from '../../services/core/audit/testing.js';
import { AirlockError } from '../../services/core/errors.js';

const keys = testAuditKeys();
const publicKeys = [keys.publicKey];
const dir = tempDir();
afterAll(() => dir.cleanup());

function open(path: string, start?: number) {
  return createFileAuditTrail({
    path,
    tier: 'mediator',
    signingKey: keys.privateKey,
    clock: steppingClock(start),
    checkpointEvery: 3,
    fsync: false,
  });
}

/** A closed trail of `events` events (a checkpoint after every 3) and its lines. */
async function closedTrail(name: string, events: number): Promise<{ path: string; lines: string[] }> {
  const path = dir.path(name);
  const trail = await open(path);
  for (let i = 0; i < events; i++) await trail.append(sampleEvent(i));
  await trail.close();
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

const tailMismatch = (e: unknown) => e instanceof AirlockError && e.code === 'AUDIT_TAIL_MISMATCH';
const kinds = (input: Parameters<typeof verifyAuditTrail>[0], options = {}) =>
  verifyAuditTrail(input, { publicKeys, ...options }).problems.map((p) => p.kind);

describe('finding 4: cutting the end off a trail', () => {
  it('a trail cut back behind its last checkpoint is refused on reopen (AUDIT_TAIL_MISMATCH), not continued', async () => {
    // 7 events: checkpoints at seq 3 and 7, close at seq 9.
    const { path, lines } = await closedTrail('cut.jsonl', 7);
    writeFileSync(path, `${lines.slice(0, 6).join('\n')}\n`); // back to seq 5, after checkpoint 3
    await expect(open(path)).rejects.toSatisfy(tailMismatch);
    // Cut exactly at an earlier checkpoint: still not the last one the tier wrote.
    writeFileSync(path, `${lines.slice(0, 4).join('\n')}\n`);
    await expect(open(path)).rejects.toSatisfy(tailMismatch);
    // The file emptied or removed altogether, or its head file removed with the cut.
    writeFileSync(path, '');
    await expect(open(path)).rejects.toSatisfy(tailMismatch);
    rmSync(path);
    await expect(open(path)).rejects.toSatisfy(tailMismatch);
    writeFileSync(path, `${lines.slice(0, 6).join('\n')}\n`);
    rmSync(auditHeadPath(path));
    await expect(open(path)).rejects.toSatisfy(tailMismatch);
    // Nothing was appended to the cut file.
    expect(readFileSync(path, 'utf8')).toBe(`${lines.slice(0, 6).join('\n')}\n`);
  });

  it('the intact trail, and one that lost only a torn last write, reopen and continue', async () => {
    const { path, lines } = await closedTrail('intact.jsonl', 7);
    writeFileSync(path, `${lines.join('\n')}\n{"torn`);
    const trail = await open(path);
    expect(trail.head().nextSeq).toBe(10);
    await trail.close();
  });

  it('reused sequence numbers are detected as seq-reused (AUDIT_SEQ_REUSED)', async () => {
    // The archived copy of a file, then records that a cut-and-reopened trail wrote over seq 6 and 7 again.
    const { lines } = await closedTrail('reuse.jsonl', 7);
    const cutAt = JSON.parse(lines[5]!);
    const replay = sealEvent(headAfter(cutAt), {
      ...sampleEvent(99),
      v: 1,
      time: '2026-11-27T06:00:00.000Z',
      tier: 'mediator',
    });
    const result = verifyAuditTrail(`${[...lines, replay.line].join('\n')}\n`, { publicKeys });
    expect(result.problems.filter((p) => p.kind === 'seq-reused')).toEqual([
      expect.objectContaining({ seq: 6, code: 'AUDIT_SEQ_REUSED', line: 11 }),
    ]);
  });

  it('time going backwards is detected (AUDIT_TIME_BACKWARDS), even in a correctly signed chain', () => {
    const keyId = auditKeyId(keys.publicKey);
    const at = (time: string) => ({ ...sampleEvent(1), v: 1 as const, time, tier: 'mediator' as const });
    const first = sealEvent({ nextSeq: 0, prev: GENESIS_HASH }, at('2026-11-27T06:00:00.000Z'));
    const second = sealEvent(headAfter(first.record), at('2026-11-27T05:00:00.000Z'));
    const close = sealCheckpoint(headAfter(second.record), {
      time: '2026-11-27T06:00:01.000Z',
      tier: 'mediator',
      reason: 'close',
      signingKey: keys.privateKey,
      keyId,
    });
    const result = verifyAuditTrail(`${[first.line, second.line, close.line].join('\n')}\n`, { publicKeys });
    expect(result.problems.map((p) => [p.kind, p.code, p.seq])).toEqual([
      ['time', 'AUDIT_TIME_BACKWARDS', 1],
    ]);
  });

  it('a lone rotated file is not a closed trail: a rotate checkpoint ends a trail only with its successor', async () => {
    const path = dir.path('rotated.jsonl');
    const trail = await open(path);
    for (let i = 0; i < 2; i++) await trail.append(sampleEvent(i));
    await trail.rotate();
    await trail.append(sampleEvent(2));
    await trail.close();
    const [rotated] = trail.rotatedFiles();
    const alone = await verifyAuditFiles([rotated!], { publicKeys, requireClosed: true });
    expect(alone.problems.map((p) => [p.kind, p.code])).toEqual([['truncated', 'AUDIT_TRUNCATED']]);
    expect(alone.closed).toBe(false);
    const whole = await verifyAuditFiles([rotated!, path], { publicKeys, requireClosed: true });
    expect(whole).toMatchObject({ ok: true, closed: true });
  });

  it('an empty file is refused (AUDIT_EMPTY)', () => {
    expect(kinds('')).toEqual(['empty']);
    expect(verifyAuditTrail(new Uint8Array(), { publicKeys }).problems[0]?.code).toBe('AUDIT_EMPTY');
  });
});

describe('finding 10: a byte order mark at the start of a line', () => {
  it('is malformed (AUDIT_LINE_MALFORMED), on the first line and on any other', async () => {
    const { lines } = await closedTrail('bom.jsonl', 4);
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const at of [0, 3]) {
      const bytes = Buffer.concat(
        lines.map((line, i) => Buffer.concat([i === at ? bom : Buffer.alloc(0), Buffer.from(`${line}\n`)])),
      );
      const result = verifyAuditTrail(bytes, { publicKeys });
      expect(result.ok).toBe(false);
      // The line is no record, so the next one's seq and prev do not follow either.
      expect(result.problems.map((p) => [p.kind, p.code, p.line])).toEqual([
        ['malformed', 'AUDIT_LINE_MALFORMED', at + 1],
        ['order', 'AUDIT_SEQ_GAP', at + 2],
        ['chain', 'AUDIT_CHAIN_BROKEN', at + 2],
      ]);
      expect(result.problems[0]?.message).toBe('the line starts with a byte order mark');
    }
  });
});
