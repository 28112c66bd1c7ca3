/**
 * Fuzz target: `verifyAuditTrail` (services/core/audit/verify.ts), the parser
 * of untrusted audit trail files behind `airlock audit verify`.
 *
 * Inputs: real closed trails (one file, and a rotated file with its
 * successor) with byte mutations, and plain random bytes. The verifier never
 * throws; every problem carries its kind's stable code and a line inside
 * the input; and with --require-closed it accepts only the unchanged trail
 * (without the key, no change of any byte keeps a closed trail intact). A
 * byte order mark before any line makes that line malformed (finding 10).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from '../services/core/audit/audit-test-helpers.js';
import {
  AUDIT_PROBLEM_CODES,
  type AuditTrailSource,
  createFileAuditTrail,
  verifyAuditTrail,
} from '../services/core/audit/index.js';
import { testAuditKeys } from '../services/core/audit/testing.js';
import { fuzz } from './fuzz-runs.js';
import { mutatedBytes } from './mutate.js';

const keys = testAuditKeys();
const publicKeys = [keys.publicKey];
const dir = tempDir();
let single: Buffer;
let rotated: Buffer;
let active: Buffer;

async function writeTrail(name: string, rotateAfter?: number): Promise<{ path: string; rotated: string[] }> {
  const path = dir.path(name);
  const trail = await createFileAuditTrail({
    path,
    tier: 'executor',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery: 3,
    fsync: false,
  });
  for (let i = 0; i < 6; i++) {
    if (i === rotateAfter) await trail.rotate();
    await trail.append(sampleEvent(i));
  }
  await trail.close();
  return { path, rotated: [...trail.rotatedFiles()] };
}

beforeAll(async () => {
  single = readFileSync((await writeTrail('single.jsonl')).path);
  const twoFiles = await writeTrail('rotated.jsonl', 4);
  rotated = readFileSync(twoFiles.rotated[0]!);
  active = readFileSync(twoFiles.path);
  // The seeds themselves verify as closed, so "ok only when unchanged" means something.
  expect(verifyAuditTrail(single, { publicKeys, requireClosed: true }).ok).toBe(true);
  expect(
    verifyAuditTrail(
      [
        { name: 'rotated', content: rotated },
        { name: 'active', content: active },
      ],
      { publicKeys, requireClosed: true },
    ).ok,
  ).toBe(true);
});
afterAll(() => dir.cleanup());

function checkShape(sources: readonly AuditTrailSource[], requireClosed: boolean) {
  const result = verifyAuditTrail(sources, { publicKeys, requireClosed });
  for (const problem of result.problems) {
    expect(problem.code).toBe(AUDIT_PROBLEM_CODES[problem.kind]);
    const source = sources.find((s) => s.name === problem.file);
    expect(source).toBeDefined();
    const lines = Buffer.from(source!.content).toString('latin1').split('\n').length;
    expect(problem.line).toBeGreaterThanOrEqual(0);
    expect(problem.line).toBeLessThanOrEqual(lines);
  }
  expect(result.ok).toBe(result.problems.length === 0);
  return result;
}

describe('fuzz: audit verify', () => {
  it('never throws, reports coded problems, and accepts a closed trail only unchanged', async () => {
    await fuzz(
      'audit-verify',
      fc.property(mutatedBytes([single]), (bytes) => {
        const result = checkShape([{ name: 'trail', content: bytes }], true);
        if (result.ok) expect(bytes.equals(single)).toBe(true);
      }),
    );
  });

  it('a changed successor of a rotated file is caught the same way', async () => {
    await fuzz(
      'audit-verify-rotated',
      fc.property(mutatedBytes([active]), (bytes) => {
        const sources = [
          { name: 'rotated', content: rotated },
          { name: 'active', content: bytes },
        ];
        const result = checkShape(sources, true);
        if (result.ok) expect(bytes.equals(active)).toBe(true);
      }),
    );
  });

  it('a byte order mark before any line makes exactly that line malformed', async () => {
    const lines = single.toString('utf8').trimEnd().split('\n');
    await fuzz(
      'audit-verify-bom',
      fc.property(fc.nat({ max: lines.length - 1 }), (at) => {
        const text = lines.map((line, i) => (i === at ? `\ufeff${line}` : line)).join('\n');
        const result = verifyAuditTrail(`${text}\n`, { publicKeys });
        expect(result.problems[0]).toMatchObject({ kind: 'malformed', line: at + 1 });
      }),
    );
  });
});
