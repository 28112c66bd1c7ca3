import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { AirlockError } from '../errors.js';
import { steppingClock, tempDir } from './audit-test-helpers.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { CrashableAuditStorage, testAuditKeys } from './testing.js';
import type { AuditRecord } from './types.js';

/*
 * What the file-audit-trail*.test.ts files share: the signing keys, error predicates, a record reader and the per-file trail fixture.
 */

export const keys = testAuditKeys();

export const isUnavailable = (e: unknown) => e instanceof AirlockError && e.code === 'AUDIT_UNAVAILABLE';
export const isTailMismatch = (e: unknown) => e instanceof AirlockError && e.code === 'AUDIT_TAIL_MISMATCH';

export function readRecords(path: string): AuditRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditRecord);
}

/**
 * Registers, in the calling test file, a temporary directory for its trails
 * (`dir`, usable from the first test on) and closes the trails a test abandons
 * (a simulated crash) as a dying process's would be. `open` creates a trail
 * on that crashable storage with a stepping clock and a checkpoint every 3 records.
 */
export function useTrailFixture() {
  let current: ReturnType<typeof tempDir>;
  beforeAll(() => {
    current = tempDir();
  });
  afterAll(() => current.cleanup());
  const crashable = new CrashableAuditStorage();
  afterEach(() => crashable.crash());
  const dir = { path: (name: string) => current.path(name) };
  async function open(path: string, extra: Partial<Parameters<typeof createFileAuditTrail>[0]> = {}) {
    return createFileAuditTrail({
      path,
      tier: 'executor',
      signingKey: keys.privateKey,
      clock: steppingClock(),
      checkpointEvery: 3,
      storage: crashable,
      ...extra,
    });
  }
  return { dir, open };
}
