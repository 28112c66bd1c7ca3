import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../cli/commands/audit-verify.js';
import { sampleEvent, steppingClock, tempDir } from '../core/audit/audit-test-helpers.js';
import { startBrokerWitnessClient } from '../core/audit/broker-witness-client.js';
import { canonicalJson } from '../core/audit/canonical-json.js';
import { sealCheckpoint } from '../core/audit/chain.js';
import { createFileAuditTrail } from '../core/audit/file-audit-trail.js';
import { testAuditKeys } from '../core/audit/testing.js';
import type { AuditCheckpointRecord, AuditRecord, AuditTrail } from '../core/audit/types.js';
import { createBrokerWitness } from './audit-witness.js';
import { createBrokerApiHandler } from './http-api.js';

const dir = tempDir();
const keys = { mediator: testAuditKeys(), broker: testAuditKeys(), stranger: testAuditKeys() };
const pem = (tier: keyof typeof keys) => {
  const path = dir.path(`${tier}.pub`);
  writeFileSync(path, keys[tier].publicKey.export({ format: 'pem', type: 'spki' }));
  return path;
};
const open = (tier: 'mediator' | 'broker', key = keys[tier]) =>
  createFileAuditTrail({
    path: dir.path(`${tier}.jsonl`),
    tier,
    signingKey: key.privateKey,
    clock: steppingClock(),
    checkpointEvery: 2,
    fsync: false,
  });
const records = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditRecord);
const io = (out: string[]) => ({
  out: (text: string) => void out.push(text),
  err: (text: string) => void out.push(text),
  readFile: async (path: string) => readFileSync(path),
  now: () => new Date(),
});

let broker: AuditTrail;
let server: Server;
let url: string;
const post = async (target: string, body: string) => {
  const res = await fetch(target.replace('https:', 'http:'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
  return text;
};

beforeAll(async () => {
  broker = await open('broker');
  const handler = createBrokerApiHandler({
    broker: {} as never,
    authenticator: {} as never,
    info: { issuer: 'https://login.example', clientId: 'airlock' },
    witness: createBrokerWitness(broker, [keys.mediator.publicKey]),
  });
  server = createServer(handler).listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  dir.cleanup();
});

describe('the broker witnesses the tiers’ checkpoint heads (POST /v1/audit/witness)', () => {
  it('a mediator trail cut back and re-signed after the broker saw its head fails verify with the broker trail, naming the broker’s witness record', async () => {
    const mediator = await open('mediator');
    const client = startBrokerWitnessClient(mediator, { url, intervalMs: 60_000, log: () => {}, post });
    await mediator.append(sampleEvent(0));
    await mediator.append(sampleEvent(1));
    await mediator.checkpoint();
    await client.stop(true);
    await mediator.close();
    const mediatorPath = dir.path('mediator.jsonl');
    const brokerPath = dir.path('broker.jsonl');
    const witnessed = records(brokerPath).filter(
      (r) => r.type === 'event' && r.event === 'checkpoint.witnessed',
    );
    expect(witnessed.length).toBeGreaterThan(0);

    // The insider keeps the mediator's first record only and re-signs a close checkpoint after it.
    const original = records(mediatorPath);
    const first = original[0]!;
    const keyId = (original.find((r) => r.type === 'checkpoint') as AuditCheckpointRecord).keyId;
    const close = sealCheckpoint(
      { nextSeq: first.seq + 1, prev: first.hash },
      { time: first.time, tier: 'mediator', reason: 'close', signingKey: keys.mediator.privateKey, keyId },
    );
    const lines = readFileSync(mediatorPath, 'utf8').split('\n');
    writeFileSync(mediatorPath, `${lines[0]}\n${close.line}\n`);
    const publicKey = [pem('mediator'), pem('broker')];

    const alone: string[] = [];
    expect(await runAuditVerify([mediatorPath], { publicKey, requireClosed: true }, io(alone))).toBe(0);
    const withBroker: string[] = [];
    const code = await runAuditVerify(
      [mediatorPath],
      { publicKey, requireClosed: true, withTrail: [brokerPath] },
      io(withBroker),
    );
    expect(code).toBe(1);
    const brokerLines = readFileSync(brokerPath, 'utf8').split('\n');
    const expected = witnessed.map((r) => {
      const line = brokerLines.findIndex(
        (text) => text.includes(`"seq":${r.seq},`) && text.includes('checkpoint.witnessed'),
      );
      return `${brokerPath}:${line + 1}: witness (seq ${r.seq}): `;
    });
    for (const prefix of expected) expect(withBroker.join('')).toContain(prefix);
    expect(withBroker.join('')).toContain('[AUDIT_WITNESS_MISMATCH]');
  });

  it('refuses a head no trusted tier key signed (400 AUDIT_WITNESS_INVALID) or a body without one, and records a replayed head once', async () => {
    const stranger = await createFileAuditTrail({
      path: dir.path('stranger.jsonl'),
      tier: 'executor',
      signingKey: keys.stranger.privateKey,
      clock: steppingClock(),
      checkpointEvery: 2,
      fsync: false,
    });
    await stranger.append(sampleEvent(0));
    await stranger.checkpoint();
    const before = records(dir.path('broker.jsonl')).length;
    const refused = async (body: unknown) => {
      const res = await fetch(`${url.replace('https:', 'http:')}/v1/audit/witness`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    };
    const head = JSON.stringify(stranger.latestCheckpoint());
    expect(await refused({ head })).toMatchObject({ status: 400, body: { code: 'AUDIT_WITNESS_INVALID' } });
    expect(await refused({})).toMatchObject({ status: 400, body: { code: 'AUDIT_WITNESS_INVALID' } });
    expect(records(dir.path('broker.jsonl')).length).toBe(before);

    // A head the broker recorded before, sent again: answered (with the broker's head), not recorded twice.
    await broker.checkpoint();
    const withCheckpoint = records(dir.path('broker.jsonl')).length;
    const recorded = records(dir.path('broker.jsonl')).find(
      (r) => r.type === 'event' && r.event === 'checkpoint.witnessed',
    )!;
    const again = JSON.parse(
      await post(
        `${url}/v1/audit/witness`,
        JSON.stringify({
          head: JSON.stringify((recorded as { details?: { checkpoint?: unknown } }).details?.checkpoint),
        }),
      ),
    ) as { recorded: boolean; head: string };
    expect(again.recorded).toBe(false);
    expect(JSON.parse(again.head)).toMatchObject({ type: 'checkpoint', tier: 'broker' });
    expect(records(dir.path('broker.jsonl')).length).toBe(withCheckpoint);
  });

  it("the tier sends only a changed head, and records the broker's head from the answer", async () => {
    const sent: string[] = [];
    const tier = await createFileAuditTrail({
      path: dir.path('mediator-2.jsonl'),
      tier: 'mediator',
      signingKey: keys.mediator.privateKey,
      clock: steppingClock(),
      checkpointEvery: 2,
      fsync: false,
    });
    const client = startBrokerWitnessClient(tier, {
      url,
      intervalMs: 60_000,
      log: () => {},
      post: (target, body) => {
        sent.push(body);
        return post(target, body);
      },
    });
    client.nudge(); // no checkpoint yet: nothing to send
    await tier.append(sampleEvent(0));
    await tier.checkpoint();
    client.nudge();
    client.nudge();
    await client.stop();
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!)).toEqual({ head: canonicalJson(tier.latestCheckpoint()) });
    await tier.close();
    const witnessed = records(dir.path('mediator-2.jsonl')).filter(
      (r) => r.type === 'event' && r.event === 'checkpoint.witnessed',
    );
    expect(
      witnessed.map((r) => (r as { details?: { checkpoint?: { tier?: string } } }).details?.checkpoint?.tier),
    ).toEqual(['broker']);
  });
});
