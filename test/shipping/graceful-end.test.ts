/**
 * Graceful end (docs/audit-shipping.md): a real mediator or executor process
 * in the off-pod ack mode, sent SIGTERM, exits only after the audit store (a
 * real OpenTelemetry Collector) has acknowledged its close checkpoint, so the
 * copy `airlock audit collect` rebuilds from the store ends with it and
 * verifies as closed. With the store down at SIGTERM the tier still exits,
 * with status 1 and a line saying the close checkpoint was not shipped.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runAuditVerify } from '../../services/cli/commands/audit.js';
import { runAuditCollect } from '../../services/cli/commands/audit-collect.js';
import { freePort, type RunningCollector, startAuditStore } from '../support/otelcol.js';
import { type ProcessTier, startTierProcess, writeTierConfig } from '../support/tier-process.js';

const binary = inject('otelcolBinary');
let root: string;
let storePort: number;
let store: RunningCollector;
const dir = (name: string) => join(root, name);

const io = (out: string[]) => ({
  out: (text: string) => void out.push(text),
  err: (text: string) => void out.push(text),
  readFile: async (path: string) => readFileSync(path),
  now: () => new Date(),
});

/** Starts the tier against the store at `port`, sends SIGTERM once `beforeTerm` ran; the exit status and output. */
async function runAndTerminate(tier: ProcessTier, name: string, port: number, beforeTerm = async () => {}) {
  const endpoint = `http://127.0.0.1:${port}/v1/logs`;
  const config = await writeTierConfig(tier, dir(name), { endpoint, trail: name, timeoutMs: 3000 });
  const running = await startTierProcess(tier, config);
  try {
    await beforeTerm();
    const code = await running.terminate('SIGTERM');
    return { code, output: running.output() };
  } catch (error) {
    running.kill();
    throw error;
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-graceful-'));
  storePort = await freePort();
  store = await startAuditStore(binary, root, storePort);
});

afterAll(async () => {
  await store?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe.each<ProcessTier>(['mediator', 'executor'])('graceful end of the %s (off-pod ack mode)', (tier) => {
  it('SIGTERM: the collected trail ends with the close checkpoint and verifies as closed', async () => {
    const name = `${tier}-graceful`;
    const { code, output } = await runAndTerminate(tier, name, storePort);
    expect(output).toContain('SIGTERM: draining');
    expect(output).toMatch(/audit trail closed: close checkpoint seq \d+, acknowledged by the audit store/);
    expect(code).toBe(0);

    // No waiting for the store: the tier exited after the store had acknowledged (and written) the checkpoint.
    const stored = readdirSync(dir('store')).map((file) => join(dir('store'), file));
    const out: string[] = [];
    expect(await runAuditCollect(stored, { out: dir(`collected-${tier}`) }, io(out))).toBe(0);
    const collected = dir(`collected-${tier}/${name}/${tier}.jsonl`);
    const lines = readFileSync(collected, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'checkpoint', reason: 'close', tier });
    expect(readFileSync(collected)).toEqual(readFileSync(dir(`${name}/audit/${tier}.jsonl`)));

    const report: string[] = [];
    const status = await runAuditVerify(
      [collected],
      { publicKey: [dir(`${name}/audit.pub`)], requireClosed: true, requireSigned: true },
      io(report),
    );
    expect(report.join('')).toMatch(/^OK: \d+ records in 1 file/m);
    expect(status).toBe(0);
  });

  it('SIGTERM with the store down: the tier exits and says the close checkpoint was not shipped', async () => {
    const name = `${tier}-store-down`;
    // A store of its own, stopped while the tier runs: the shared one serves the other tests.
    const port = await freePort();
    const own = await startAuditStore(binary, dir(`${name}-store`), port);
    const { code, output } = await runAndTerminate(tier, name, port, () => own.stop());
    expect(output).toContain(`${tier}: AUDIT_UNAVAILABLE: the close checkpoint was not shipped off the pod`);
    expect(code).toBe(1);
    // Written on the pod all the same: the audit agent, if it is still running, ships it later.
    const local = readFileSync(dir(`${name}/audit/${tier}.jsonl`), 'utf8')
      .trimEnd()
      .split('\n');
    expect(JSON.parse(local.at(-1)!)).toMatchObject({ type: 'checkpoint', reason: 'close' });
  });
});
