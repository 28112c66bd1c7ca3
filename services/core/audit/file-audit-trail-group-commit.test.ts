import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { AirlockError } from '../errors.js';
import { isUnavailable, keys, readRecords, useTrailFixture } from './file-audit-trail-test-support.js';
import { FaultyAuditStorage, ObservedAuditStorage } from './testing.js';
import { verifyAuditTrail } from './verify.js';

// Group commit: appends share writes and fsyncs, and a failure rejects the whole group.

const { dir, open } = useTrailFixture();

describe('createFileAuditTrail group commit', () => {
  const decision = (i: number) =>
    ({
      event: 'intent.allowed',
      actor: { user: 'alice' },
      target: { pod: `p${i}` },
      decision: 'allow',
    }) as const;
  const ops = (storage: ObservedAuditStorage) => storage.ops.map((o) => o.op);
  const settled = (promise: Promise<void>) => {
    const state = { done: false, error: undefined as unknown };
    promise.then(
      () => {
        state.done = true;
      },
      (error: unknown) => {
        state.done = true;
        state.error = error;
      },
    );
    return state;
  };
  /** A trail on `storage` in file `name` whose first append is written and waits in its held fsync. */
  const firstAppendInFlight = async (storage: ObservedAuditStorage, name: string) => {
    const trail = await open(dir.path(name), { storage, checkpointEvery: 1000 });
    const release = storage.holdSyncs();
    const first = trail.append(decision(0));
    await vi.waitFor(() => expect(ops(storage)).toEqual(['write', 'sync:start']));
    return { trail, first, release };
  };
  /** Releases the held fsync (the first append succeeds) and returns what each append of `group` ended with. */
  const rejectionsAfterRelease = async (
    first: Promise<void>,
    release: () => void,
    group: Promise<void>[],
  ) => {
    const ended = group.map((p) => p.catch((e: unknown) => e));
    release();
    await expect(first).resolves.toBeUndefined();
    return Promise.all(ended);
  };
  const ticks = async (n = 20) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
  };

  it('appends made while a write+fsync is in flight go out in one write and share the next fsync', async () => {
    const storage = new ObservedAuditStorage();
    const path = dir.path('group.jsonl');
    const trail = await open(path, { storage, checkpointEvery: 1000 });
    const release = storage.holdSyncs();
    const first = settled(trail.append(decision(0)));
    await vi.waitFor(() => expect(ops(storage)).toEqual(['write', 'sync:start']));
    const later = [1, 2, 3, 4].map((i) => settled(trail.append(decision(i))));
    await ticks();
    // Nothing more is written while the first fsync is in flight, and nothing resolves.
    expect(ops(storage)).toEqual(['write', 'sync:start']);
    expect([first, ...later].some((s) => s.done)).toBe(false);
    // The second fsync is held too: the group is written but not yet acknowledged.
    const releaseSecond = storage.holdSyncs();
    release();
    await vi.waitFor(() =>
      expect(ops(storage)).toEqual(['write', 'sync:start', 'sync:end', 'write', 'sync:start']),
    );
    await ticks();
    expect(first.done).toBe(true);
    expect(later.some((s) => s.done)).toBe(false);
    // The second write holds all four records, in append order.
    const groupWrite = storage.ops[3];
    expect(groupWrite?.op === 'write' && groupWrite.text.trimEnd().split('\n').length).toBe(4);
    releaseSecond();
    await vi.waitFor(() => expect(later.every((s) => s.done)).toBe(true));
    expect(later.map((s) => s.error)).toEqual([undefined, undefined, undefined, undefined]);
    expect(ops(storage).filter((op) => op === 'sync:end')).toHaveLength(2);
    await trail.close();
    const pods = readRecords(path).flatMap((r) => (r.type === 'event' ? [r.target.pod] : []));
    expect(pods).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('64 durable appends made at once cost one write and one fsync, checkpoints included', async () => {
    const storage = new ObservedAuditStorage();
    const path = dir.path('group-tick.jsonl');
    const trail = await open(path, { storage, checkpointEvery: 10 });
    await Promise.all(Array.from({ length: 64 }, (_, i) => trail.append(decision(i))));
    expect(ops(storage)).toEqual(['write', 'sync:start', 'sync:end']);
    await trail.close();
    const records = readRecords(path);
    expect(records.filter((r) => r.type === 'checkpoint')).toHaveLength(7); // 6 interval + close
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('a failed fsync rejects every append of its group with AUDIT_UNAVAILABLE, and all later ones', async () => {
    const { trail, first, release } = await firstAppendInFlight(
      new FaultyAuditStorage({ syncsBeforeFailure: 1 }),
      'group-eio.jsonl',
    );
    // Queued behind the held fsync: one group, durable and non-durable alike.
    const errors = await rejectionsAfterRelease(first, release, [
      trail.append(decision(1)),
      trail.append({ event: 'logs.streamed', actor: {}, target: {} }),
      trail.append(decision(2)),
    ]);
    expect(errors.every(isUnavailable)).toBe(true);
    expect(new Set(errors).size).toBe(1); // the one failure, reported to each
    expect((errors[0] as AirlockError).detail).toMatch(/EIO/);
    expect(trail.healthy()).toBe(false);
    await expect(trail.append(decision(3))).rejects.toBe(errors[0]);
    await trail.close();
  });

  it('a failed write rejects every append of its group, durable or not', async () => {
    const { trail, first, release } = await firstAppendInFlight(
      new FaultyAuditStorage({ writesBeforeFailure: 1 }),
      'group-enospc.jsonl',
    );
    const errors = await rejectionsAfterRelease(first, release, [
      trail.append({ event: 'logs.streamed', actor: {}, target: {} }),
      trail.append(decision(1)),
    ]);
    expect(errors.every(isUnavailable)).toBe(true);
    expect((errors[0] as AirlockError).detail).toMatch(/ENOSPC/);
    expect(trail.healthy()).toBe(false);
    await trail.close();
  });

  it('close() waits for the appends queued before it and then refuses new ones', async () => {
    const storage = new ObservedAuditStorage();
    const path = dir.path('group-close.jsonl');
    const trail = await open(path, { storage, checkpointEvery: 1000 });
    const appends = [0, 1, 2].map((i) => trail.append(decision(i)));
    const closed = trail.close();
    await expect(trail.append(decision(3))).rejects.toSatisfy(isUnavailable);
    await Promise.all([...appends, closed]);
    expect(ops(storage)).toEqual(['write', 'sync:start', 'sync:end', 'close']);
    expect(readRecords(path).map((r) => r.type)).toEqual(['event', 'event', 'event', 'checkpoint']);
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).closed).toBe(true);
  });
});
