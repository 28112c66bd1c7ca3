/**
 * Audit trail append rate with and without fsync (createFileAuditTrail in a
 * temp dir on the same file system as the OS temp dir). Each event carries a
 * decision, so it is a durable append, as every allowed intent is in the
 * mediator and executor; appends are awaited one by one, as a session awaits
 * its own decision before acting.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEventInput, createFileAuditTrail } from '../services/core/audit/index.js';
import { round, type Summary, summarize } from './stats.js';

const EVENT: AuditEventInput = {
  event: 'intent.allowed',
  actor: { user: 'bench0', groups: ['jit:bench:payments'], kind: 'user', address: '127.0.0.1:50000' },
  target: {
    cluster: 'dev',
    namespace: 'payments',
    pod: 'payments-api-0',
    resource: 'pods/exec',
    argv: ['true'],
  },
  decision: 'allow',
  session_id: 's-0123456789abcdef',
  request_id: 'bench-bench0',
};

async function eventsPerSecond(
  dir: string,
  fsync: boolean,
  events: number,
  round_: number,
  inFlight = 1,
): Promise<number> {
  const trail = await createFileAuditTrail({
    path: join(dir, `trail-${fsync ? 'on' : 'off'}-${round_}-${inFlight}.jsonl`),
    tier: 'mediator',
    signingKey: generateKeyPairSync('ed25519').privateKey,
    clock: () => new Date(),
    fsync,
  });
  const start = process.hrtime.bigint();
  let next = 0;
  const writer = async () => {
    while (next++ < events) await trail.append(EVENT);
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await trail.close();
  return round(events / seconds, 1);
}

export interface AuditResult {
  events_per_round: number;
  rounds: number;
  durable_events_per_s: Summary;
  non_durable_events_per_s: Summary;
  /** Appends/s with fsync / without, one at a time (the headline audit ratio comes from session rates). */
  append_on_off_ratio: number;
  samples: { durable: number[]; non_durable: number[] };
  /** The same with IN_FLIGHT appends outstanding (sessions appending at once): shows whether fsyncs are shared. */
  concurrent: {
    in_flight: number;
    durable_events_per_s: Summary;
    non_durable_events_per_s: Summary;
    ratio: number;
  };
}

const IN_FLIGHT = 16;

export async function benchAudit(events: number, rounds: number): Promise<AuditResult> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-bench-'));
  try {
    await eventsPerSecond(dir, false, Math.min(events, 200), -1);
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < rounds; r++) {
      on.push(await eventsPerSecond(dir, true, events, r));
      off.push(await eventsPerSecond(dir, false, events, r));
    }
    const onConcurrent: number[] = [];
    const offConcurrent: number[] = [];
    for (let r = 0; r < rounds; r++) {
      onConcurrent.push(await eventsPerSecond(dir, true, events, r, IN_FLIGHT));
      offConcurrent.push(await eventsPerSecond(dir, false, events, r, IN_FLIGHT));
    }
    const durableConcurrent = summarize(onConcurrent);
    const nonDurableConcurrent = summarize(offConcurrent);
    const durable = summarize(on);
    const nonDurable = summarize(off);
    return {
      events_per_round: events,
      rounds,
      durable_events_per_s: durable,
      non_durable_events_per_s: nonDurable,
      append_on_off_ratio: round(durable.p50 / nonDurable.p50, 3),
      samples: { durable: on, non_durable: off },
      concurrent: {
        in_flight: IN_FLIGHT,
        durable_events_per_s: durableConcurrent,
        non_durable_events_per_s: nonDurableConcurrent,
        ratio: round(durableConcurrent.p50 / nonDurableConcurrent.p50, 3),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
