/**
 * The off-pod ack storage against a local HTTP server standing in for the
 * audit store: what it sends (every line once, in chain order) and that
 * every kind of failed answer fails the durable append closed. The real
 * collector is in test/shipping/audit-shipping.test.ts.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { sampleEvent, steppingClock, tempDir } from './audit-test-helpers.js';
import { createFileAuditTrail } from './file-audit-trail.js';
import { nodeAuditStorage } from './file-sink.js';
import { otlpAckStorage } from './otlp-ack-storage.js';
import { parseShippedLogs } from './shipped-trail.js';
import { testAuditKeys } from './testing.js';

const keys = testAuditKeys();
let dir: ReturnType<typeof tempDir>;
let server: Server;
let url: string;
/** What the next request is answered with. */
let answer = { status: 200, body: '{}' };
const received: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      received.push(body);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/logs`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  dir.cleanup();
});

async function open(name: string) {
  return createFileAuditTrail({
    path: dir.path(name),
    tier: 'executor',
    signingKey: keys.privateKey,
    clock: steppingClock(),
    checkpointEvery: 100,
    storage: otlpAckStorage(nodeAuditStorage, { endpoint: url, trail: 'pod-x', timeoutMs: 2000 }),
  });
}

describe('otlpAckStorage', () => {
  it('sends the lines written before each durable record, non-durable ones included, once each and in order', async () => {
    answer = { status: 200, body: '{}' };
    received.length = 0;
    const trail = await open('order.jsonl');
    await trail.append(sampleEvent(0), { durable: false });
    await trail.append(sampleEvent(1), { durable: true });
    await trail.append(sampleEvent(2), { durable: true });
    await trail.close();
    const seqs = received.flatMap((body) => parseShippedLogs(body).lines.map((l) => JSON.parse(l.line).seq));
    // Events 0-2 and the close checkpoint (3).
    expect(seqs).toEqual([0, 1, 2, 3]);
    expect(parseShippedLogs(received[0]!).lines[0]!.trail).toBe('pod-x/order.jsonl');
  });

  for (const [what, status, body] of [
    ['a server error', 503, 'unavailable'],
    ['an OTLP partial success', 200, '{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"full"}}'],
  ] as const) {
    it(`fails the durable append with AUDIT_UNAVAILABLE on ${what}, and the trail stays unhealthy`, async () => {
      answer = { status, body };
      const trail = await open(`fail-${status}.jsonl`);
      const error = await trail.append(sampleEvent(0), { durable: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).code).toBe('AUDIT_UNAVAILABLE');
      expect(trail.healthy()).toBe(false);
      await trail.close();
    });
  }

  it('fails the durable append with AUDIT_UNAVAILABLE when nothing listens', async () => {
    const trail = await createFileAuditTrail({
      path: dir.path('refused.jsonl'),
      tier: 'executor',
      signingKey: keys.privateKey,
      clock: steppingClock(),
      storage: otlpAckStorage(nodeAuditStorage, { endpoint: 'http://127.0.0.1:1/v1/logs', trail: 'pod-x' }),
    });
    const error = await trail.append(sampleEvent(0), { durable: true }).catch((e: unknown) => e);
    expect((error as AirlockError).code).toBe('AUDIT_UNAVAILABLE');
    await trail.close();
  });
});
