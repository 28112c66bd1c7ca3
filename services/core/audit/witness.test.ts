import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { canonicalJson } from './canonical-json.js';
import { auditKeyId, sealCheckpoint } from './chain.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { testAuditKeys } from './testing.js';
import { checkWitnessedHeads, createCheckpointWitness, parseWitnessedHead } from './witness.js';

const mediatorKeys = testAuditKeys();
const executorKeys = testAuditKeys();
const publicKeys = [mediatorKeys.publicKey, executorKeys.publicKey];
const dir = tempDir();
afterAll(() => dir.cleanup());

function open(
  name: string,
  tier: 'mediator' | 'executor',
  keys = tier === 'mediator' ? mediatorKeys : executorKeys,
) {
  return createFileAuditTrail({
    path: dir.path(name),
    tier,
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery: 2,
    fsync: false,
  });
}

const invalidHead = (e: unknown) => e instanceof AirlockError && e.code === 'AUDIT_WITNESS_INVALID';
const sources = (name: string) => [{ name, content: readFileSync(dir.path(name)) }];

describe('parseWitnessedHead', () => {
  const head = sealCheckpoint(
    { nextSeq: 4, prev: 'a'.repeat(64) },
    {
      time: '2026-11-27T05:00:00.000Z',
      tier: 'executor',
      reason: 'interval',
      signingKey: executorKeys.privateKey,
      keyId: auditKeyId(executorKeys.publicKey),
    },
  );

  it('accepts a sealed checkpoint line exactly', () => {
    expect(parseWitnessedHead(head.line)).toEqual(head.record);
  });

  it('refuses an edited, re-ordered, non-checkpoint or oversized head (AUDIT_WITNESS_INVALID)', () => {
    expect(() => parseWitnessedHead(head.line.replace('"seq":4', '"seq":5'))).toThrow(
      expect.objectContaining({ code: 'AUDIT_WITNESS_INVALID' }),
    );
    expect(() => parseWitnessedHead(JSON.stringify(head.record, null, 1))).toThrow(AirlockError);
    expect(() => parseWitnessedHead(canonicalJson({ ...head.record, type: 'event' }))).toThrow(AirlockError);
    expect(() => parseWitnessedHead(`${head.line}${' '.repeat(5000)}`)).toThrow(AirlockError);
    expect(() => parseWitnessedHead('')).toThrow(AirlockError);
  });

  it('never throws anything but AUDIT_WITNESS_INVALID on arbitrary input (fast-check)', () => {
    const mutated = fc
      .tuple(fc.nat(head.line.length - 1), fc.string({ maxLength: 3 }))
      .map(([at, s]) => head.line.slice(0, at) + s + head.line.slice(at + 1));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), mutated), (text) => {
        try {
          expect(parseWitnessedHead(text)).toEqual(head.record);
        } catch (error) {
          expect(invalidHead(error)).toBe(true);
        }
      }),
    );
  });
});

describe('witnessed checkpoints across two trails', () => {
  async function witnessedPair(prefix: string) {
    const mediator = await open(`${prefix}-mediator.jsonl`, 'mediator');
    const executor = await open(`${prefix}-executor.jsonl`, 'executor');
    const atMediator = createCheckpointWitness(mediator);
    const atExecutor = createCheckpointWitness(executor);
    for (let i = 0; i < 4; i++) await executor.append(sampleEvent(i));
    await executor.checkpoint();
    for (let i = 0; i < 2; i++) await mediator.append(sampleEvent(i));
    await mediator.checkpoint();
    await atMediator.record(atExecutor.ownHead(), { session_id: 'sess-1' });
    await atExecutor.record(atMediator.ownHead(), { session_id: 'sess-1' });
    // The same head again is not recorded twice; none sent is nothing to record.
    await atMediator.record(atExecutor.ownHead());
    await atMediator.record('');
    await mediator.close();
    await executor.close();
    return {
      mediator: { name: `${prefix}-mediator.jsonl`, sources: sources(`${prefix}-mediator.jsonl`) },
      executor: { name: `${prefix}-executor.jsonl`, sources: sources(`${prefix}-executor.jsonl`) },
    };
  }

  it('an intact pair confirms both witnessed heads', async () => {
    const { mediator, executor } = await witnessedPair('intact');
    const witnessLines = readFileSync(dir.path('intact-mediator.jsonl'), 'utf8').match(
      /checkpoint\.witnessed/g,
    );
    expect(witnessLines).toHaveLength(1);
    expect(checkWitnessedHeads([mediator, executor], publicKeys)).toEqual({
      confirmed: 2,
      problems: [],
      unchecked: [],
    });
  });

  it('a witnessed trail cut back and re-signed fails, naming the witness record; without it, the head is unchecked', async () => {
    const { mediator } = await witnessedPair('cut');
    const path = dir.path('cut-executor.jsonl');
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    // Keep seq 0..2 (two events and the checkpoint at seq 2), re-sign a close after them.
    const kept = lines.slice(0, 3);
    const last = JSON.parse(kept[2]!);
    const close = sealCheckpoint(
      { nextSeq: last.seq + 1, prev: last.hash },
      {
        time: last.time,
        tier: 'executor',
        reason: 'close',
        signingKey: executorKeys.privateKey,
        keyId: last.keyId,
      },
    );
    writeFileSync(path, `${[...kept, close.line].join('\n')}\n`);
    const result = checkWitnessedHeads(
      [mediator, { name: 'cut-executor.jsonl', sources: sources('cut-executor.jsonl') }],
      publicKeys,
    );
    const witnessLine =
      readFileSync(dir.path('cut-mediator.jsonl'), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('checkpoint.witnessed')) + 1;
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'witness',
        code: 'AUDIT_WITNESS_MISMATCH',
        file: 'cut-mediator.jsonl',
        line: witnessLine,
      }),
    ]);
    expect(result.problems[0]!.message).toMatch(/executor checkpoint seq 6 .* is not in cut-executor\.jsonl/);
    expect(checkWitnessedHeads([mediator], publicKeys)).toEqual({
      confirmed: 0,
      problems: [],
      unchecked: [expect.objectContaining({ tier: 'executor', seq: 6, line: witnessLine })],
    });
  });

  it('a witnessed head not signed by a trusted key is a problem', async () => {
    const { mediator, executor } = await witnessedPair('untrusted');
    const result = checkWitnessedHeads([mediator, executor], [mediatorKeys.publicKey]);
    expect(result.problems.map((p) => [p.file, p.code])).toEqual([
      ['untrusted-mediator.jsonl', 'AUDIT_WITNESS_MISMATCH'],
    ]);
    expect(result.problems[0]!.message).toMatch(/not signed by a trusted/);
  });
});
