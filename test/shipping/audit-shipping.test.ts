/**
 * Audit trails leave the pod through real OpenTelemetry Collector processes
 * (built from Go modules, configs of deploy/components/audit-shipping/): the
 * agent tails a tier's trail files and forwards them, the store writes them
 * to a file, and `airlock audit collect` + `airlock audit verify` check the
 * stored copy byte for byte. Also: an agent restart loses and repeats
 * nothing, and the off-pod ack mode refuses a durable record when the store
 * is down (AUDIT_UNAVAILABLE).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runAuditCollect } from '../../services/cli/commands/audit-collect.js';
import { runAuditVerify } from '../../services/cli/commands/audit-verify.js';
import { sampleEvent, steppingClock } from '../../services/core/audit/audit-test-helpers.js';
import {
  assembleShippedTrails,
  createFileAuditTrail,
  type FileAuditTrail,
  nodeAuditStorage,
  otlpAckStorage,
  parseShippedLogs,
} from '../../services/core/audit/index.js';
import { testAuditKeys } from '../../services/core/audit/testing.js';
import { AirlockError } from '../../services/core/errors.js';
import {
  freePort,
  type RunningCollector,
  startAuditStore,
  startCollector,
  waitFor,
} from '../support/otelcol.js';

const keys = testAuditKeys();
const binary = inject('otelcolBinary');
let root: string;
let storePort: number;
let store: RunningCollector;
let agent: RunningCollector;
const dir = (name: string) => join(root, name);

function startStore(): Promise<RunningCollector> {
  return startAuditStore(binary, root, storePort);
}

function startAgent(): Promise<RunningCollector> {
  const env = {
    AIRLOCK_AUDIT_DIR: dir('audit'),
    AIRLOCK_TRAIL_ORIGIN: 'pod-a',
    OTELCOL_STATE_DIR: dir('agent-state'),
    AIRLOCK_AUDIT_STORE_ENDPOINT: `http://127.0.0.1:${storePort}`,
  };
  return startCollector(binary, 'agent.yaml', env, dir('agent.log'));
}

/** Every trail line the store holds, in the order it wrote them (all its files). */
function storedText(): string {
  const files = readdirSync(dir('store')).sort();
  return files.map((name) => readFileSync(join(dir('store'), name), 'utf8')).join('');
}

/** The tier's own files of trail `base`, oldest first (rotated ones, then the active file). */
function localFiles(base: string): Map<string, Buffer> {
  const names = readdirSync(dir('audit')).filter(
    (n) => n === base || (/^\S+\.\d{12}$/.test(n) && n.startsWith(`${base}.`)),
  );
  names.sort((a, b) => (a === base ? 1 : b === base ? -1 : a < b ? -1 : 1));
  return new Map(names.map((name) => [name, readFileSync(join(dir('audit'), name))]));
}

/** True once the store's copy of `trail` rebuilds into exactly the tier's files. */
function shippedEqualsLocal(trail: string, local: Map<string, Buffer>): boolean {
  const files = assembleShippedTrails(parseShippedLogs(storedText()).lines).filter((f) => f.trail === trail);
  return files.length === local.size && files.every((f) => local.get(f.name)?.equals(f.bytes) === true);
}

/**
 * A trail of the tier its file is named after. Two trails whose first lines
 * were byte-identical would share the filelog receiver's fingerprint (its
 * first 1000 bytes) and be taken for one file; a tier's trails never are (the
 * tier, the time and the chain differ).
 */
async function openTrail(
  name: 'mediator.jsonl' | 'executor.jsonl',
  extra: Partial<Parameters<typeof createFileAuditTrail>[0]> = {},
) {
  return createFileAuditTrail({
    path: dir(`audit/${name}`),
    tier: name === 'mediator.jsonl' ? 'mediator' : 'executor',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery: 4,
    ...extra,
  });
}

async function appendAll(trail: FileAuditTrail, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await trail.append(sampleEvent(i), { durable: i % 3 === 0 });
}

const io = (out: string[]) => ({
  out: (text: string) => void out.push(text),
  err: (text: string) => void out.push(text),
  readFile: async (path: string) => readFileSync(path),
  now: () => new Date(),
});

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-shipping-'));
  storePort = await freePort();
  store = await startStore();
  agent = await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  await store?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('audit shipping through the OpenTelemetry Collector', () => {
  it('a rotated trail reaches the store and collects into files equal to the tier’s, which verify', async () => {
    const trail = await openTrail('mediator.jsonl', { maxBytes: 4000 });
    await appendAll(trail, 0, 40);
    await trail.close();
    const local = localFiles('mediator.jsonl');
    expect(local.size).toBeGreaterThanOrEqual(3);
    await waitFor(
      () => shippedEqualsLocal('pod-a/mediator.jsonl', local),
      'the shipped copy of mediator.jsonl',
    );

    // The operator's path: airlock audit collect, then airlock audit verify on what it wrote.
    const out: string[] = [];
    const stored = readdirSync(dir('store')).map((name) => join(dir('store'), name));
    expect(await runAuditCollect(stored, { out: dir('collected') }, io(out))).toBe(0);
    const collected = [...local.keys()].map((name) => dir(`collected/pod-a/${name}`));
    for (const path of collected) expect(out.join('')).toContain(`${path}\n`);
    const report: string[] = [];
    const status = await runAuditVerify(
      collected,
      { publicKey: [dir('audit.pub')], requireClosed: true, requireSigned: true },
      { ...io(report), readFile: async (p) => (p === dir('audit.pub') ? publicPem() : readFileSync(p)) },
    );
    expect(report.join('')).toMatch(/^OK: \d+ records in \d+ files/m);
    expect(status).toBe(0);
  });

  it('an agent restart loses no line and ships none twice (filelog offsets in file_storage)', async () => {
    const trail = await openTrail('executor.jsonl');
    await appendAll(trail, 0, 10);
    const firstHalf = localFiles('executor.jsonl');
    await waitFor(
      () => shippedEqualsLocal('pod-a/executor.jsonl', firstHalf),
      'the first half to be shipped',
    );
    await agent.stop();
    await appendAll(trail, 10, 20); // written while the agent is down
    await trail.close();
    agent = await startAgent();
    const local = localFiles('executor.jsonl');
    await waitFor(() => shippedEqualsLocal('pod-a/executor.jsonl', local), 'the whole trail to be shipped');
    const shipped = parseShippedLogs(storedText()).lines.filter((l) => l.trail === 'pod-a/executor.jsonl');
    const written = local.get('executor.jsonl')!.toString('utf8').split('\n').slice(0, -1);
    // Exactly once: the restarted agent resumed at its saved offset, it did not re-read the file.
    expect(shipped.map((l) => l.line)).toEqual(written);
  });

  it('off-pod ack: a durable record is in the store when its append resolves; with the store down it is refused', async () => {
    const storage = otlpAckStorage(nodeAuditStorage, {
      endpoint: `http://127.0.0.1:${storePort}/v1/logs`,
      trail: 'pod-ack',
      timeoutMs: 3000,
    });
    // Not in the agent's directory: only the tier's own requests carry this trail.
    const trail = await createFileAuditTrail({
      path: dir('ack/broker.jsonl'),
      tier: 'broker',
      signingKey: keys.privateKey,
      clock: steppingClock(),
      storage,
    });
    await trail.append({ ...sampleEvent(0), decision: 'allow' }, { durable: true });
    // No waiting: the append resolved after the store answered, and the store answers after writing.
    const acked = parseShippedLogs(storedText()).lines.filter((l) => l.trail === 'pod-ack/broker.jsonl');
    expect(acked.map((l) => JSON.parse(l.line).seq)).toEqual([0]);

    await store.stop();
    const refused = await trail
      .append({ ...sampleEvent(1), decision: 'allow' }, { durable: true })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(AirlockError);
    expect((refused as AirlockError).code).toBe('AUDIT_UNAVAILABLE');
    expect(trail.healthy()).toBe(false);
    store = await startStore();
    await trail.close();
  });
});

function publicPem(): Buffer {
  return Buffer.from(keys.publicKey.export({ format: 'pem', type: 'spki' }).toString());
}
