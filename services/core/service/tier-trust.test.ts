/** The bench-only audit fsync switch: off only when asked for exactly, and never silently. */
import { describe, expect, it } from 'vitest';
import { auditFsyncFromEnv, UNSAFE_NO_AUDIT_FSYNC_ENV } from './tier-trust.js';

describe('auditFsyncFromEnv', () => {
  it('keeps fsync on without the variable and for any value other than 1, saying nothing', () => {
    const warnings: string[] = [];
    for (const value of [undefined, '', '0', 'true', 'yes', ' 1', '1 '])
      expect(auditFsyncFromEnv({ [UNSAFE_NO_AUDIT_FSYNC_ENV]: value }, (m) => warnings.push(m))).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('turns fsync off for exactly 1 and warns that decisions are not durable', () => {
    const warnings: string[] = [];
    expect(auditFsyncFromEnv({ [UNSAFE_NO_AUDIT_FSYNC_ENV]: '1' }, (m) => warnings.push(m))).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/audit fsync is OFF.*never in production/);
  });
});
