/**
 * Graceful end (docs/audit-shipping.md): a real mediator, executor or broker process
 * in the off-pod ack mode, sent SIGTERM, exits only after the audit store (a
 * real OpenTelemetry Collector) has acknowledged its close checkpoint, so the
 * copy `airlock audit collect` rebuilds from the store ends with it and
 * verifies as closed. With the store down at SIGTERM the tier still exits,
 * with status 1 and a line saying the close checkpoint was not shipped.
 */
import { createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startBrokerReplica } from '../../services/broker/replica-process.js';
import { type BrokerTestEnv, startBrokerTestEnv } from '../../services/broker/testing.js';
import { runAuditCollect } from '../../services/cli/commands/audit-collect.js';
import { runAuditVerify } from '../../services/cli/commands/audit-verify.js';
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

/** The store's copy of `trail`'s file `file`, rebuilt by `airlock audit collect`; its path. */
async function collected(trail: string, file: string): Promise<string> {
  const stored = readdirSync(dir('store')).map((name) => join(dir('store'), name));
  const out: string[] = [];
  expect(await runAuditCollect(stored, { out: dir(`collected-${trail}`) }, io(out))).toBe(0);
  return dir(`collected-${trail}/${trail}/${file}`);
}

/** The collected copy ends with the close checkpoint, equals the tier's file and verifies as closed. */
async function expectCollectedClosed(trail: string, file: string, local: string, publicKey: string) {
  // No waiting for the store: the tier exited after the store had acknowledged (and written) the checkpoint.
  const path = await collected(trail, file);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'checkpoint', reason: 'close' });
  expect(readFileSync(path)).toEqual(readFileSync(local));
  const report: string[] = [];
  const status = await runAuditVerify(
    [path],
    { publicKey: [publicKey], requireClosed: true, requireSigned: true },
    io(report),
  );
  expect(report.join('')).toMatch(/^OK: \d+ records in 1 file/m);
  expect(status).toBe(0);
}

/** The last line of the tier's own file is the close checkpoint (written on the pod, shipped or not). */
function expectLocalClosed(local: string): void {
  const lines = readFileSync(local, 'utf8').trimEnd().split('\n');
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'checkpoint', reason: 'close' });
}

/** A store of its own on a fresh port, for a test that stops it while the shared one serves the others. */
async function ownStore(name: string): Promise<{ port: number; store: RunningCollector }> {
  const port = await freePort();
  return { port, store: await startAuditStore(binary, dir(`${name}-store`), port) };
}

describe.each<ProcessTier>(['mediator', 'executor'])('graceful end of the %s (off-pod ack mode)', (tier) => {
  it('SIGTERM: the collected trail ends with the close checkpoint and verifies as closed', async () => {
    const name = `${tier}-graceful`;
    const { code, output } = await runAndTerminate(tier, name, storePort);
    expect(output).toContain('SIGTERM: draining');
    expect(output).toMatch(/audit trail closed: close checkpoint seq \d+, acknowledged by the audit store/);
    expect(code).toBe(0);
    const local = dir(`${name}/audit/${tier}.jsonl`);
    await expectCollectedClosed(name, `${tier}.jsonl`, local, dir(`${name}/audit.pub`));
  });

  it('SIGTERM with the store down: the tier exits and says the close checkpoint was not shipped', async () => {
    const name = `${tier}-store-down`;
    const own = await ownStore(name);
    const { code, output } = await runAndTerminate(tier, name, own.port, () => own.store.stop());
    expect(output).toContain(`${tier}: AUDIT_UNAVAILABLE: the close checkpoint was not shipped off the pod`);
    expect(code).toBe(1);
    // Written on the pod all the same: the audit agent, if it is still running, ships it later.
    expectLocalClosed(dir(`${name}/audit/${tier}.jsonl`));
  });
});

describe('graceful end of the broker (off-pod ack mode)', () => {
  let env: BrokerTestEnv;
  beforeAll(async () => {
    env = await startBrokerTestEnv();
    const key = createPublicKey(readFileSync(env.config.audit.signingKeyFile));
    writeFileSync(dir('broker-audit.pub'), key.export({ type: 'spki', format: 'pem' }));
  });
  afterAll(async () => {
    await env?.stop();
  });

  /** A broker process (its own trail in the off-pod ack mode) sent SIGTERM once `beforeTerm` ran. */
  async function brokerTerminated(name: string, port: number, beforeTerm = async () => {}) {
    mkdirSync(dir(name), { recursive: true });
    const endpoint = `http://127.0.0.1:${port}/v1/logs`;
    const replica = await startBrokerReplica(env, name, {
      audit: {
        ...env.config.audit,
        path: dir(`${name}/broker.jsonl`),
        offPodAck: { endpoint, trail: name, timeoutMs: 3000 },
      },
    });
    let output = '';
    for (const stream of [replica.child.stdout, replica.child.stderr])
      stream?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
    try {
      await beforeTerm();
    } finally {
      await replica.stop('SIGTERM');
    }
    return { code: replica.child.exitCode, output, local: dir(`${name}/broker.jsonl`) };
  }

  it('SIGTERM: the collected trail ends with the close checkpoint and verifies as closed', async () => {
    const { code, output, local } = await brokerTerminated('broker-graceful', storePort);
    expect(output).toMatch(/audit trail closed: close checkpoint seq \d+, acknowledged by the audit store/);
    expect(code).toBe(0);
    await expectCollectedClosed('broker-graceful', 'broker.jsonl', local, dir('broker-audit.pub'));
  });

  it('SIGTERM with the store down: the broker exits and says the close checkpoint was not shipped', async () => {
    const own = await ownStore('broker-store-down');
    const { code, output, local } = await brokerTerminated('broker-store-down', own.port, () =>
      own.store.stop(),
    );
    expect(output).toContain('broker: AUDIT_UNAVAILABLE: the close checkpoint was not shipped off the pod');
    expect(code).toBe(1);
    expectLocalClosed(local);
  });
});
