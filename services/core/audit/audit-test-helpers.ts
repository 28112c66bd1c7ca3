/** Shared set-up for the audit tests: a temp directory and a fixed clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventInput } from './types.js';

export function tempDir(): { path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-'));
  return { path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock that advances 1 ms per call from a fixed instant. */
export function steppingClock(start = Date.parse('2026-11-27T05:00:00.000Z')): () => Date {
  let t = start;
  return () => new Date(t++);
}

export function sampleEvent(i: number): AuditEventInput {
  return {
    event: i % 2 === 0 ? 'exec.started' : 'exec.exited',
    actor: { user: 'alice', groups: ['sre'], kind: 'user', address: '10.0.0.7:51234' },
    target: {
      cluster: 'prod',
      namespace: 'payments',
      pod: `api-${i}`,
      container: 'app',
      argv: ['ps', 'aux'],
    },
    session_id: 'sess-1',
    request_id: 'req-1',
    details: i % 2 === 0 ? {} : { exit_code: 0, duration_ms: 12 + i },
  };
}
