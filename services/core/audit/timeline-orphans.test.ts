import { describe, expect, it } from 'vitest';
import { buildTimeline } from './timeline.js';
import { renderTimelineHtml } from './timeline-html.js';
import { markTimelineOrphans, reconcileTimelineSources } from './timeline-orphans.js';

const kube = (id: string, session?: string) =>
  JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    auditID: id,
    stage: 'ResponseComplete',
    verb: 'create',
    user: {
      username: session ? 'system:serviceaccount:airlock-system:airlock-executor' : 'kubernetes-admin',
    },
    ...(session
      ? { impersonatedUser: { username: 'airlock:session', extra: { 'airlock.dev/session-id': [session] } } }
      : {}),
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'payments', name: 'api-0' },
    responseStatus: { code: 101 },
    stageTimestamp: session ? '2026-11-27T09:00:01.000Z' : '2026-11-27T09:00:02.000Z',
  });
const executor = JSON.stringify({
  v: 1,
  type: 'event',
  seq: 0,
  prev: '0'.repeat(64),
  hash: '1'.repeat(64),
  tier: 'executor',
  event: 'exec.started',
  time: '2026-11-27T09:00:00.900Z',
  session_id: 's1',
  actor: { user: 'alice' },
  target: { namespace: 'payments', pod: 'api-0', resource: 'pods/exec', argv: ['ps'] },
});

describe('timeline orphan lane', () => {
  const sources = [
    { name: 'kube.log', content: `${kube('airlock', 's1')}\n${kube('direct')}\n` },
    { name: 'executor.jsonl', content: `${executor}\n` },
  ];

  it('moves exactly the orphan to its own lane, red in HTML', () => {
    const result = reconcileTimelineSources(sources)!;
    const entries = markTimelineOrphans(buildTimeline(sources).entries, result);
    expect(entries.map((e) => [e.lane, e.event])).toEqual([
      ['executor', 'exec.started'],
      ['kubernetes', 'create'],
      ['orphan', 'create'],
    ]);
    expect(entries[2]!.summary).toMatch(/^ORPHAN: no authorized airlock action \[AUDIT_ORPHAN\]/);
    const html = renderTimelineHtml({ entries, filter: {} } as Parameters<typeof renderTimelineHtml>[0]);
    expect(html).toContain('<span>orphan: 1</span>');
    expect(html.match(/<details class="row lane-orphan/g)).toHaveLength(1);
    expect(html).toContain('<span class="flag">orphan</span>');
    expect(html).toMatch(/\.lane-orphan\{border-left-color:#c92a2a/);
  });

  it('without a Kubernetes audit log there is nothing to reconcile, and no orphan lane', () => {
    expect(reconcileTimelineSources([sources[1]!])).toBeUndefined();
    const html = renderTimelineHtml({
      entries: buildTimeline([sources[1]!]).entries,
      filter: {},
    } as Parameters<typeof renderTimelineHtml>[0]);
    expect(html).not.toContain('orphan:');
    expect(html).not.toContain('<details class="row lane-orphan');
  });
});
