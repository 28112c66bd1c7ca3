/**
 * audit-event.schema.json agrees with the TypeScript types and the writer,
 * and docs/audit.md has a schema-valid example of every event.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import schema from './audit-event.schema.json' with { type: 'json' };
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { testAuditKeys } from './testing.js';
import { AUDIT_EVENT_NAMES } from './types.js';
import { verifyAuditTrail } from './verify.js';

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validateRecord = ajv.compile(schema);
const validateEvent = ajv.compile({ ...schema.definitions.auditEvent, definitions: schema.definitions });
const docs = readFileSync(new URL('../../../docs/audit.md', import.meta.url), 'utf8');

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('audit-event.schema.json', () => {
  it('lists exactly the event names of the TypeScript type', () => {
    expect(schema.definitions.auditEvent.properties.event.enum).toEqual([...AUDIT_EVENT_NAMES]);
  });

  it('accepts every record the file trail writes, events and checkpoints', async () => {
    const path = dir.path('schema.jsonl');
    const trail = await createFileAuditTrail({
      path,
      tier: 'broker',
      signingKey: testAuditKeys().privateKey,
      clock: steppingClock(),
      checkpointEvery: 2,
      fsync: false,
    });
    for (let i = 0; i < 5; i++) await trail.append(sampleEvent(i));
    await trail.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    for (const line of lines)
      expect(validateRecord(JSON.parse(line)), JSON.stringify(validateRecord.errors)).toBe(true);
  });

  it('rejects an unknown event name and unknown top-level fields', () => {
    const base = { v: 1, time: '2026-11-27T05:00:00.000Z', tier: 'broker', actor: {}, target: {} };
    expect(validateEvent({ ...base, event: 'request.created' })).toBe(true);
    expect(validateEvent({ ...base, event: 'request.teleported' })).toBe(false);
    expect(validateEvent({ ...base, event: 'request.created', extra: 1 })).toBe(false);
  });
});

describe('docs/audit.md', () => {
  const examples = [...docs.matchAll(/```json\n([\s\S]*?)\n```/g)].map(
    (m) => JSON.parse(m[1] ?? '') as unknown,
  );

  it('has one schema-valid example of every event, in the documented order', () => {
    for (const example of examples)
      expect(validateEvent(example), JSON.stringify(validateEvent.errors)).toBe(true);
    expect(examples.map((e) => (e as { event: string }).event).sort()).toEqual([...AUDIT_EVENT_NAMES].sort());
  });

  it('shows records on disk that are schema-valid and a correctly chained pair', () => {
    const block = /```jsonl\n([\s\S]*?)\n```/.exec(docs)?.[1] ?? '';
    const lines = block.split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(validateRecord(JSON.parse(line))).toBe(true);
    // Signed by a discarded key, so only the signature is unverifiable.
    const result = verifyAuditTrail(`${block}\n`, { publicKeys: [] });
    expect(result.problems.map((p) => p.kind)).toEqual(['signature']);
    expect(result.unsignedTail).toMatchObject({ count: 2, seq: 0 });
  });
});
