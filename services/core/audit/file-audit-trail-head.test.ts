import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sampleEvent } from './audit-test-helpers.js';
import { auditHeadPath } from './file-audit-trail.js';
import { isTailMismatch, keys, readRecords, useTrailFixture } from './file-audit-trail-test-support.js';
import { GENESIS_HASH } from './types.js';
import { verifyAuditFiles } from './verify.js';

// The head file (last checkpoint on stable storage) and reopening after crashes and rotations.

const { dir, open } = useTrailFixture();

describe('createFileAuditTrail head file and reopening', () => {
  const head = (path: string) => JSON.parse(readFileSync(auditHeadPath(path), 'utf8'));

  it('names the last checkpoint on stable storage in the head file (seq -1 for a new trail)', async () => {
    const path = dir.path('head.jsonl');
    const trail = await open(path);
    expect(head(path)).toEqual({ v: 1, seq: -1, hash: GENESIS_HASH });
    expect(statSync(auditHeadPath(path)).mode & 0o777).toBe(0o600);
    for (let i = 0; i < 3; i++) await trail.append(sampleEvent(i));
    await trail.checkpoint();
    const checkpoint = readRecords(path).at(-1);
    expect(head(path)).toEqual({ v: 1, seq: checkpoint?.seq, hash: checkpoint?.hash });
    await trail.close();
    expect(head(path).seq).toBe(readRecords(path).at(-1)?.seq);
  });

  it('reopens a trail that crashed before its first checkpoint, and one whose active file starts after a rotation', async () => {
    const path = dir.path('head-crash.jsonl');
    const first = await open(path, { checkpointEvery: 100 });
    await first.append(sampleEvent(0)); // the process dies: nothing signed yet, head file at seq -1
    const second = await open(path, { checkpointEvery: 100 });
    await second.append(sampleEvent(1));
    await second.rotate();
    await second.append(sampleEvent(2)); // the new active file holds seq 4 only
    const third = await open(path, { checkpointEvery: 100 });
    expect(third.head()).toEqual(second.head());
    await third.close();
    const files = [...second.rotatedFiles(), path];
    expect(
      await verifyAuditFiles(files, { publicKeys: [keys.publicKey], requireClosed: true }),
    ).toMatchObject({
      ok: true,
    });
  });

  it('completes a rotation the tier stopped in the middle of (checkpoint written, file not yet renamed)', async () => {
    const path = dir.path('half-rotated.jsonl');
    const first = await open(path, { checkpointEvery: 100 });
    await first.append(sampleEvent(0));
    await first.rotate();
    const [rotated] = first.rotatedFiles();
    renameSync(rotated!, path); // as if the process died before the rename
    const second = await open(path, { checkpointEvery: 100 });
    expect(existsSync(rotated!)).toBe(true);
    await second.append(sampleEvent(1));
    await second.close();
    const result = await verifyAuditFiles([rotated!, path], {
      publicKeys: [keys.publicKey],
      requireClosed: true,
    });
    expect(result.problems).toEqual([]);
  });

  it('refuses a trail whose records after the last checkpoint do not chain onto it', async () => {
    const path = dir.path('head-splice.jsonl');
    const trail = await open(path);
    for (let i = 0; i < 4; i++) await trail.append(sampleEvent(i)); // checkpoint at seq 3, then seq 4
    await trail.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    writeFileSync(path, `${[...lines.slice(0, 4), lines[1]].join('\n')}\n`); // seq 1 again after the checkpoint
    await expect(open(path)).rejects.toSatisfy(isTailMismatch);
    writeFileSync(auditHeadPath(path), 'not json');
    await expect(open(path)).rejects.toSatisfy(isTailMismatch);
  });

  it('writes no head file beside a device such as /dev/null', async () => {
    if (!existsSync('/dev/null')) return;
    const trail = await open('/dev/null', { fsync: false });
    await trail.append(sampleEvent(0));
    await trail.close();
    expect(existsSync(auditHeadPath('/dev/null'))).toBe(false);
  });
});
