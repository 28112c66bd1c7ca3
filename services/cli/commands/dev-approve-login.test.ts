/**
 * `airlock dev approve-login` against a running dev identity provider: a
 * spent or unknown device code is refused as AUTH_INVALID (exit 1), not as
 * a USAGE error; a demo user that does not exist is a USAGE error (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../broker/testing.js';
import { main } from '../main.js';

let env: BrokerTestEnv;
let stateDir: string;

beforeAll(async () => {
  env = await startBrokerTestEnv();
  stateDir = mkdtempSync(join(tmpdir(), 'airlock-dev-approve-'));
  // What a running `dev up` records: this process stands in for it.
  writeFileSync(
    join(stateDir, 'dev-up.json'),
    JSON.stringify({
      pid: process.pid,
      pids: [],
      brokerUrl: env.url,
      brokerCa: env.caFile,
      issuer: env.provider.issuer,
      sshPort: 0,
    }),
  );
});

afterAll(async () => {
  await env?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function approve(user: string, code: string): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const status = await main([
      'node',
      'airlock',
      'dev',
      'approve-login',
      '--state-dir',
      stateDir,
      '--user',
      user,
      code,
    ]);
    return { status, stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('airlock dev approve-login', () => {
  it('refuses a spent device code as AUTH_INVALID, exit 1', async () => {
    const result = await approve('alice', 'WXYZ-WXYZ');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^airlock: AUTH_INVALID: no pending device authorization with user code WXYZ-WXYZ \(it was used, denied or has expired\); run airlock login again for a new code\n/,
    );
  });

  it('refuses an unknown demo user as USAGE, exit 2', async () => {
    const result = await approve('mallory', 'WXYZ-WXYZ');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('airlock: USAGE: no demo user named "mallory"');
  });
});
