/**
 * The reviewer's counting rules: a revocation-forced close is not a
 * denial, and access after revocation is judged by when the action began.
 */
import { describe, expect, it } from 'vitest';
import { buildTimeline } from './timeline.js';
import {
  accessAfterRevocation,
  entryOutcome,
  formatDuration,
  summariseTimeline,
} from './timeline-summary.js';
import { revokedSessionStory } from './timeline-test-story.js';

describe('timeline counting', () => {
  it('a close forced by CERT_REVOKED is "closed", a refused shell is "deny"', () => {
    const { entries } = buildTimeline(revokedSessionStory());
    const outcome = (lane: string, event: string) =>
      entries.filter((e) => e.lane === lane && e.event === event).map(entryOutcome);
    expect(outcome('mediator', 'logs.streamed')).toEqual(['closed']);
    expect(outcome('mediator', 'session.closed')).toEqual(['closed']);
    expect(outcome('executor', 'session.closed')).toEqual(['closed']);
    expect(outcome('mediator', 'intent.denied')).toEqual(['deny']);
    expect(entries.map(entryOutcome).filter((o) => o === 'deny')).toHaveLength(1);
  });

  it('a CERT_REVOKED refusal of a new login is still a denial', () => {
    const { entries } = buildTimeline([
      {
        name: 'm.jsonl',
        content: JSON.stringify({
          type: 'event',
          tier: 'mediator',
          time: '2026-11-27T10:01:00.000Z',
          event: 'auth.denied',
          decision: 'deny',
          code: 'CERT_REVOKED',
          actor: { user: 'alice' },
        }),
      },
    ]);
    expect(entries.map(entryOutcome)).toEqual(['deny']);
  });

  it('a pods/log request received before the revocation is not access after it; one received after is', () => {
    const quiet = buildTimeline(revokedSessionStory()).entries;
    expect([...accessAfterRevocation(quiet)]).toEqual([]);
    const late = buildTimeline(revokedSessionStory({ lateAccess: true })).entries;
    expect([...accessAfterRevocation(late)].map((e) => `${e.event} ${e.target} ${e.started}`)).toEqual([
      'get pods payments/api-0 2026-11-27T10:00:31.000Z',
    ]);
  });

  it('summarises the request: who, what, when, how long, decisions, anomalies', () => {
    const [group, ...rest] = summariseTimeline(
      buildTimeline(revokedSessionStory({ lateAccess: true })).entries,
    );
    expect(rest).toEqual([]);
    expect(group).toEqual({
      label: 'request req_R',
      requestId: 'req_R',
      users: ['alice', 'bob'],
      sessions: ['ses_R'],
      what: [
        'asked: prod:payments/api-*',
        'pods/exec prod:payments/api-0 [app] -- ps aux',
        'pods/log prod:payments/api-0 [app]',
      ],
      first: '2026-11-27T10:00:00.000Z',
      last: '2026-11-27T10:00:31.020Z',
      durationMs: 31_020,
      allowed: 9,
      denied: 1,
      closed: 3,
      revokedAt: '2026-11-27T10:00:30.000Z',
      anomalies: ['1 access after revocation'],
    });
  });

  it('formats durations for a reader', () => {
    expect([450, 1500, 125_000, 7_380_000].map(formatDuration)).toEqual([
      '450 ms',
      '1.5 s',
      '2 min 05 s',
      '2 h 03 min',
    ]);
  });
});
