import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { closeTrail } from './close-trail.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { FaultyAuditStorage, testAuditKeys } from './testing.js';

const keys = testAuditKeys();
const dir = tempDir();
afterEach(() => dir.cleanup());

function open(name: string, storage?: FaultyAuditStorage) {
  return createFileAuditTrail({
    path: dir.path(name),
    tier: 'mediator',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    ...(storage ? { storage } : {}),
  });
}

describe('closeTrail: how a tier’s trail ended', () => {
  it('names the close checkpoint a healthy trail ended with', async () => {
    const trail = await open('healthy.jsonl');
    await trail.append(sampleEvent(0));
    const end = await closeTrail(trail, true);
    expect(end).toEqual({
      closed: true,
      seq: 1,
      message: 'audit trail closed: close checkpoint seq 1, acknowledged by the audit store',
    });
  });

  it('reports AUDIT_UNAVAILABLE, without throwing, when the close checkpoint cannot be made durable', async () => {
    const trail = await open('sync-fails.jsonl', new FaultyAuditStorage({ failSync: true }));
    await trail.append(sampleEvent(0)); // not durable: no fsync yet
    const end = await closeTrail(trail, true);
    expect(end.closed).toBe(false);
    if (end.closed) return;
    expect(end.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(end.error.message).toBe('the close checkpoint was not shipped off the pod');
    expect(end.error.detail).toContain('i/o error, fsync');
  });

  it('reports a trail that had failed before the end, which gets no close checkpoint', async () => {
    const trail = await open('failed-before.jsonl', new FaultyAuditStorage({ syncsBeforeFailure: 1 }));
    await trail.checkpoint(); // the one fsync that succeeds
    await expect(trail.append({ ...sampleEvent(1), decision: 'allow' })).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
    const end = await closeTrail(trail, false);
    expect(end).toMatchObject({
      closed: false,
      error: { code: 'AUDIT_UNAVAILABLE', message: 'the close checkpoint was not written' },
    });
  });
});
