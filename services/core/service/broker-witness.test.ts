import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleEvent, steppingClock, tempDir } from '../audit/audit-test-helpers.js';
import { createFileAuditTrail } from '../audit/file-audit-trail.js';
import { testAuditKeys } from '../audit/testing.js';
import { withBrokerWitness } from './broker-witness.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe("a tier's trail with audit.brokerWitness", () => {
  it('sends the head to the broker after session.opened and session.closed, and the close checkpoint at stop', async () => {
    const trail = await createFileAuditTrail({
      path: dir.path('executor.jsonl'),
      tier: 'executor',
      signingKey: testAuditKeys().privateKey,
      clock: steppingClock(),
      checkpointEvery: 1,
      fsync: false,
    });
    const sent: { url: string; head: string }[] = [];
    const post = async (url: string, body: string) => {
      sent.push({ url, head: (JSON.parse(body) as { head: string }).head });
      return '{"recorded":true,"head":""}';
    };
    const witnessed = withBrokerWitness(
      trail,
      { url: 'https://broker.example:8443' },
      3_600_000,
      () => {},
      post,
    );
    await witnessed.audit.append(sampleEvent(0)); // not a session edge: nothing sent
    await sleep(20);
    expect(sent).toEqual([]);
    await witnessed.audit.append({ ...sampleEvent(1), event: 'session.opened', decision: 'allow' });
    await sleep(20);
    expect(sent.map((s) => s.url)).toEqual(['https://broker.example:8443/v1/audit/witness']);
    expect(JSON.parse(sent[0]!.head)).toMatchObject({ type: 'checkpoint', tier: 'executor' });
    await witnessed.audit.append({ ...sampleEvent(2), event: 'session.closed' });
    await sleep(20);
    expect(sent).toHaveLength(2);
    await trail.close();
    await witnessed.stop();
    expect(sent).toHaveLength(3);
    expect(JSON.parse(sent[2]!.head)).toMatchObject({ type: 'checkpoint', reason: 'close' });
  });

  it('is the trail itself without it', () => {
    const trail = { append: async () => {} } as never;
    expect(withBrokerWitness(trail, undefined, 1000, () => {}).audit).toBe(trail);
  });
});
