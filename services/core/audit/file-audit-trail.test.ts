/**
 * The file trail: what it writes, when it fsyncs, how it fails, and that the
 * chain survives rotation and reopening. The head file and reopening after
 * crashes: file-audit-trail-head.test.ts; time: file-audit-trail-time.test.ts;
 * group commit: file-audit-trail-group-commit.test.ts.
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AirlockError } from '../errors.js';
import { sampleEvent } from './audit-test-helpers.js';
import { rotatedAuditPath } from './file-audit-trail.js';
import { isUnavailable, keys, readRecords, useTrailFixture } from './file-audit-trail-test-support.js';
import { FaultyAuditStorage, ObservedAuditStorage } from './testing.js';
import { GENESIS_HASH } from './types.js';
import { verifyAuditFiles, verifyAuditTrail } from './verify.js';

const { dir, open } = useTrailFixture();

describe('createFileAuditTrail', () => {
  it('writes hash-chained canonical JSON lines with signed checkpoints that verify', async () => {
    const path = dir.path('roundtrip.jsonl');
    const trail = await open(path);
    for (let i = 0; i < 7; i++) await trail.append(sampleEvent(i));
    await trail.close();
    const records = readRecords(path);
    // 7 events, a checkpoint after every 3 events, and one at close.
    expect(records.map((r) => r.type)).toEqual([
      ...['event', 'event', 'event', 'checkpoint'],
      ...['event', 'event', 'event', 'checkpoint'],
      ...['event', 'checkpoint'],
    ]);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(records[0]?.prev).toBe(GENESIS_HASH);
    for (let i = 1; i < records.length; i++) expect(records[i]?.prev).toBe(records[i - 1]?.hash);
    const first = records[0];
    expect(first).toMatchObject({ v: 1, tier: 'executor', time: '2026-11-27T05:00:00.000Z', type: 'event' });
    const last = records.at(-1);
    expect(last).toMatchObject({ type: 'checkpoint', reason: 'close', upTo: 8, chainHash: records[8]?.hash });
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const result = verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] });
    expect(result).toEqual({ ok: true, records: 10, lastCheckpointSeq: 9, closed: true, problems: [] });
    expect(trail.healthy()).toBe(false);
    await expect(trail.append(sampleEvent(0))).rejects.toSatisfy(isUnavailable);
  });

  it('stores terminal escape sequences in argv and reason as \\u escapes, never raw', async () => {
    const path = dir.path('escapes.jsonl');
    const trail = await open(path);
    const argv = ['printf', '\u001b]0;owned\u0007\u001b[2J', '\u009b31m', '\u202egnp.exe'];
    await trail.append({
      event: 'intent.denied',
      actor: { user: 'mallory\u001b[8m' },
      target: { argv },
      decision: 'deny',
      code: 'COMMAND_DENIED',
      reason: 'bell\u0007 and ESC\u001b',
    });
    await trail.close();
    const bytes = readFileSync(path);
    expect(bytes.includes(0x1b)).toBe(false);
    expect(bytes.includes(0x07)).toBe(false);
    expect(bytes.includes(Buffer.from('\u009b', 'utf8'))).toBe(false);
    expect(bytes.includes(Buffer.from('\u202e', 'utf8'))).toBe(false);
    const text = bytes.toString('utf8');
    expect(text).toContain('\\u001b]0;owned\\u0007\\u001b[2J');
    expect(text).toContain('\\u009b31m');
    const [record] = readRecords(path);
    expect(record?.type === 'event' && record.target.argv).toEqual(argv);
    expect(verifyAuditTrail(text, { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('does not resolve a durable (decision) append until its fsync has completed', async () => {
    const storage = new ObservedAuditStorage();
    const trail = await open(dir.path('durable.jsonl'), { storage, checkpointEvery: 100 });
    const release = storage.holdSyncs();
    let resolved = false;
    const pending = trail
      .append({ event: 'intent.allowed', actor: { user: 'alice' }, target: {}, decision: 'allow' })
      .then(() => {
        resolved = true;
      });
    await vi.waitFor(() => expect(storage.ops.map((o) => o.op)).toContain('sync:start'));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    expect(resolved).toBe(false);
    expect(storage.ops.map((o) => o.op)).toEqual(['write', 'sync:start']);
    release();
    await pending;
    expect(resolved).toBe(true);
    expect(storage.ops.map((o) => o.op)).toEqual(['write', 'sync:start', 'sync:end']);

    // Without a decision an append is written but not fsynced, unless durable is asked for.
    storage.ops.length = 0;
    await trail.append({ event: 'logs.streamed', actor: {}, target: {} });
    expect(storage.ops.map((o) => o.op)).toEqual(['write']);
    storage.ops.length = 0;
    await trail.append({ event: 'logs.streamed', actor: {}, target: {} }, { durable: true });
    expect(storage.ops.map((o) => o.op)).toEqual(['write', 'sync:start', 'sync:end']);
    storage.ops.length = 0;
    await trail.append(
      { event: 'intent.denied', actor: {}, target: {}, decision: 'deny' },
      { durable: false },
    );
    expect(storage.ops.map((o) => o.op)).toEqual(['write']);
    await trail.close();
  });

  it('with fsync: false never fsyncs (tests and benchmarks only)', async () => {
    const storage = new ObservedAuditStorage();
    const trail = await open(dir.path('nofsync.jsonl'), { storage, fsync: false });
    await trail.append({ event: 'intent.allowed', actor: {}, target: {}, decision: 'allow' });
    await trail.close();
    expect(storage.ops.some((o) => o.op === 'sync:start')).toBe(false);
  });

  it('rejects with AUDIT_UNAVAILABLE and turns unhealthy on a real ENOSPC (/dev/full)', async () => {
    if (!existsSync('/dev/full')) return;
    const trail = await open('/dev/full');
    expect(trail.healthy()).toBe(true);
    const error = await trail.append(sampleEvent(0)).catch((e: unknown) => e);
    expect(isUnavailable(error)).toBe(true);
    expect((error as AirlockError).detail).toMatch(/ENOSPC/);
    expect(trail.healthy()).toBe(false);
    expect(trail.lastError).toBe(error);
    // Sticky: later appends and checkpoints reject without writing.
    await expect(trail.append(sampleEvent(1))).rejects.toBe(error);
    await expect(trail.checkpoint()).rejects.toBe(error);
    await trail.close();
  });

  it('creates the missing directories of a fresh volume, readable by the tier only', async () => {
    const path = dir.path('fresh-volume/audit/executor.jsonl');
    const trail = await open(path);
    await trail.append(sampleEvent(0));
    await trail.close();
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('refuses to open where the file cannot be created (real EACCES/ENOENT) with AUDIT_UNAVAILABLE', async () => {
    // /sys refuses file creation even to root; /proc has no such directory.
    for (const path of ['/sys/airlock-audit.jsonl', '/proc/airlock/audit.jsonl']) {
      const error = await open(path).catch((e: unknown) => e);
      expect(isUnavailable(error)).toBe(true);
      expect((error as AirlockError).detail).toMatch(/EACCES|EROFS|ENOENT|EPERM/);
    }
  });

  it('fails closed on a write failure after some records: the failing and later appends reject', async () => {
    const storage = new FaultyAuditStorage({ writesBeforeFailure: 2 });
    const trail = await open(dir.path('faulty.jsonl'), { storage, checkpointEvery: 100 });
    await trail.append(sampleEvent(0));
    await trail.append(sampleEvent(1));
    await expect(trail.append(sampleEvent(2))).rejects.toSatisfy(isUnavailable);
    expect(trail.healthy()).toBe(false);
    expect(trail.lastError?.detail).toMatch(/ENOSPC/);
    await expect(trail.append(sampleEvent(3))).rejects.toSatisfy(isUnavailable);
    await trail.close();
  });

  it('fails closed when fsync fails on a durable append', async () => {
    const storage = new FaultyAuditStorage({ failSync: true });
    const trail = await open(dir.path('faulty-sync.jsonl'), { storage, checkpointEvery: 100 });
    await trail.append(sampleEvent(0)); // not durable: no fsync
    await expect(
      trail.append({ event: 'auth.accepted', actor: {}, target: {}, decision: 'allow' }),
    ).rejects.toSatisfy(isUnavailable);
    expect(trail.healthy()).toBe(false);
    await trail.close();
  });

  it('rejects an unknown event name or an unserialisable value as INTERNAL without breaking the trail', async () => {
    const trail = await open(dir.path('internal.jsonl'));
    await expect(trail.append({ event: 'nope' as 'exec.started', actor: {}, target: {} })).rejects.toSatisfy(
      (e) => e instanceof AirlockError && e.code === 'INTERNAL',
    );
    await expect(
      trail.append({ event: 'exec.exited', actor: {}, target: {}, details: { big: 1n } }),
    ).rejects.toSatisfy((e) => e instanceof AirlockError && e.code === 'INTERNAL');
    expect(trail.healthy()).toBe(true);
    await trail.append(sampleEvent(0));
    await trail.close();
  });

  it('rejects a non-Ed25519 or public signing key and a bad checkpointEvery as CONFIG_INVALID', async () => {
    const isConfig = (e: unknown) => e instanceof AirlockError && e.code === 'CONFIG_INVALID';
    await expect(open(dir.path('x.jsonl'), { signingKey: keys.publicKey })).rejects.toSatisfy(isConfig);
    await expect(open(dir.path('x.jsonl'), { checkpointEvery: 0 })).rejects.toSatisfy(isConfig);
  });

  it('serialises concurrent appends in call order', async () => {
    const path = dir.path('concurrent.jsonl');
    const trail = await open(path, { checkpointEvery: 1000 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        trail.append({ event: 'logs.streamed', actor: {}, target: { pod: `p${i}` } }),
      ),
    );
    await trail.close();
    const pods = readRecords(path).flatMap((r) => (r.type === 'event' ? [r.target.pod] : []));
    expect(pods).toEqual(Array.from({ length: 50 }, (_, i) => `p${i}`));
    expect(verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] }).ok).toBe(true);
  });

  it('rotate() ends the file with a signed checkpoint, renames it path.<seq> and continues the chain', async () => {
    const path = dir.path('rotate.jsonl');
    const trail = await open(path, { checkpointEvery: 100 });
    await trail.append(sampleEvent(0));
    await trail.append(sampleEvent(1));
    await trail.rotate();
    await trail.append(sampleEvent(2));
    await trail.close();
    const rotated = rotatedAuditPath(path, 2);
    expect(trail.rotatedFiles()).toEqual([rotated]);
    expect(rotated.endsWith('.000000000002')).toBe(true);
    const old = readRecords(rotated);
    expect(old.at(-1)).toMatchObject({ type: 'checkpoint', reason: 'rotate', seq: 2 });
    const current = readRecords(path);
    expect(current[0]).toMatchObject({ seq: 3, prev: old.at(-1)?.hash });
    const whole = await verifyAuditFiles([rotated, path], { publicKeys: [keys.publicKey] });
    expect(whole).toMatchObject({ ok: true, records: 5, closed: true });
    // The active file alone starts mid-chain: an error unless declared as continued.
    const alone = await verifyAuditFiles([path], { publicKeys: [keys.publicKey] });
    expect(alone.problems.map((p) => p.kind)).toEqual(['order', 'chain']);
    expect((await verifyAuditFiles([path], { publicKeys: [keys.publicKey], continued: true })).ok).toBe(true);
    // Files out of order are detected.
    expect((await verifyAuditFiles([path, rotated], { publicKeys: [keys.publicKey] })).ok).toBe(false);
  });

  it('rotates by size (maxBytes) and the rotated files plus the active one verify as one chain', async () => {
    const path = dir.path('bysize.jsonl');
    const trail = await open(path, { maxBytes: 1500, checkpointEvery: 4 });
    for (let i = 0; i < 30; i++) await trail.append(sampleEvent(i));
    await trail.close();
    const rotated = trail.rotatedFiles();
    expect(rotated.length).toBeGreaterThan(3);
    expect([...rotated].sort()).toEqual(rotated);
    const result = await verifyAuditFiles([...rotated, path], { publicKeys: [keys.publicKey] });
    expect(result.ok).toBe(true);
    expect(result.closed).toBe(true);
  });

  it('reopening an existing file continues its chain', async () => {
    const path = dir.path('reopen.jsonl');
    const first = await open(path);
    for (let i = 0; i < 4; i++) await first.append(sampleEvent(i));
    await first.close();
    const second = await open(path);
    const before = readRecords(path);
    expect(second.head()).toEqual({ nextSeq: before.length, prev: before.at(-1)?.hash });
    await second.append(sampleEvent(4));
    await second.close();
    const result = verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] });
    expect(result).toMatchObject({ ok: true, closed: true, records: before.length + 2 });
  });

  it('reopening after rotation with an empty active file continues from the newest rotated file', async () => {
    const path = dir.path('reopen-rotated.jsonl');
    const first = await open(path, { checkpointEvery: 100 });
    await first.append(sampleEvent(0));
    await first.rotate(); // the process dies here: the new active file is empty
    const second = await open(path, { checkpointEvery: 100 });
    expect(second.head()).toEqual(first.head());
    await second.append(sampleEvent(1));
    await second.close();
    const files = [...first.rotatedFiles(), path];
    expect((await verifyAuditFiles(files, { publicKeys: [keys.publicKey] })).ok).toBe(true);
  });

  it('after a crash mid-line, reopening keeps the partial line as evidence and chains past it', async () => {
    const path = dir.path('crash.jsonl');
    const first = await open(path, { checkpointEvery: 2 });
    for (let i = 0; i < 3; i++) await first.append(sampleEvent(i));
    const complete = readRecords(path);
    appendFileSync(path, '{"actor":{"user":"ali'); // torn write
    const second = await open(path, { checkpointEvery: 2 });
    expect(second.head()).toEqual({ nextSeq: complete.length, prev: complete.at(-1)?.hash });
    await second.append(sampleEvent(3));
    await second.close();
    const result = verifyAuditTrail(readFileSync(path), { publicKeys: [keys.publicKey] });
    expect(result.problems.map((p) => [p.kind, p.line])).toEqual([['malformed', complete.length + 1]]);
    expect(result.closed).toBe(true);
  });

  it('refuses to continue a non-empty file that holds no record', async () => {
    const path = dir.path('garbage.jsonl');
    writeFileSync(path, 'not an audit trail\n');
    await expect(open(path)).rejects.toSatisfy(isUnavailable);
  });
});
