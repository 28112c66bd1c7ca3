import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { AirlockError } from '../errors.js';
import { sampleEvent, steppingClock } from './audit-test-helpers.js';
import { keys, readRecords, useTrailFixture } from './file-audit-trail-test-support.js';
import { verifyAuditTrail } from './verify.js';

// Time: checkpoint intervals and a clock that never goes back.

const { dir, open } = useTrailFixture();

describe('createFileAuditTrail time', () => {
  it('signs a checkpoint within checkpointIntervalMs of the first unsigned record, and none while nothing is unsigned', async () => {
    const path = dir.path('interval.jsonl');
    const trail = await open(path, { checkpointEvery: 1000, checkpointIntervalMs: 20 });
    await trail.append(sampleEvent(0));
    await vi.waitFor(
      () => expect(readRecords(path).at(-1)).toMatchObject({ type: 'checkpoint', reason: 'interval' }),
      {
        timeout: 5000,
      },
    );
    const count = readRecords(path).length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(readRecords(path)).toHaveLength(count);
    await trail.close();
    const result = verifyAuditTrail(readFileSync(path), {
      publicKeys: [keys.publicKey],
      requireClosed: true,
    });
    expect(result.ok).toBe(true);
  });

  it('never writes a time before the last one, when the clock steps back or after a reopen', async () => {
    const path = dir.path('clock-back.jsonl');
    let now = Date.parse('2026-11-27T05:00:10.000Z');
    const clock = () => new Date(now);
    const first = await open(path, { clock });
    await first.append(sampleEvent(0));
    now -= 5000;
    await first.append(sampleEvent(1));
    await first.close();
    const second = await open(path, { clock: steppingClock(Date.parse('2026-11-27T04:00:00.000Z')) });
    await second.append(sampleEvent(2));
    await second.close();
    const times = readRecords(path).map((r) => r.time);
    expect(new Set(times)).toEqual(new Set(['2026-11-27T05:00:10.000Z']));
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('rejects a bad checkpointIntervalMs as CONFIG_INVALID', async () => {
    await expect(open(dir.path('bad-interval.jsonl'), { checkpointIntervalMs: 0 })).rejects.toSatisfy(
      (e: unknown) => e instanceof AirlockError && e.code === 'CONFIG_INVALID',
    );
  });
});
