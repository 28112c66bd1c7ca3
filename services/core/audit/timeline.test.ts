/**
 * The timeline: recognising airlock records and Kubernetes audit events,
 * merging by time, the filters (with the session → request widening), and
 * the three renderings' escaping.
 */
import { describe, expect, it } from 'vitest';
import { buildTimeline, filterTimeline, mergeTimeline } from './timeline.js';
import type { TimelineEntry } from './timeline-entry.js';
import { renderTimelineHtml } from './timeline-html.js';
import { htmlEscape } from './timeline-html-escape.js';
import { parseTimelineSource } from './timeline-parse.js';
import { unchainedRecord } from './timeline-test-story.js';
import { renderTimelineJson, renderTimelineText, terminalSafe } from './timeline-text.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** An airlock record of `tier` at `time` for `event`, with `fields`. */
const record = (time: string, tier: string, event: string, fields: Record<string, unknown>): string =>
  unchainedRecord({ actor: {}, target: {}, time, tier, event, ...fields });

const broker = [
  record('2026-11-27T09:14:03.000Z', 'broker', 'request.created', {
    actor: { user: 'alice' },
    request_id: 'req_1',
  }),
  record('2026-11-27T09:14:04.000Z', 'broker', 'request.approved', {
    actor: { user: 'bob', kind: 'approver' },
    decision: 'allow',
    request_id: 'req_1',
  }),
  record('2026-11-27T09:14:05.000Z', 'broker', 'request.created', {
    actor: { user: 'carol' },
    request_id: 'req_2',
  }),
  JSON.stringify({ type: 'checkpoint', v: 1, tier: 'broker', time: '2026-11-27T09:14:06.000Z', seq: 3 }),
].join('\n');

const mediator = [
  record('2026-11-27T09:14:10.000Z', 'mediator', 'session.opened', {
    actor: { user: 'alice' },
    session_id: 'ses_1',
    request_id: 'req_1',
    trace_id: TRACE,
  }),
  record('2026-11-27T09:14:12.000Z', 'mediator', 'intent.denied', {
    actor: { user: 'alice' },
    target: {
      namespace: 'payments',
      pod: 'api-0',
      resource: 'pods/exec',
      argv: ['sh', '-c', 'echo \u001b[2J'],
    },
    decision: 'deny',
    code: 'SHELL_NOT_ALLOWED',
    reason: 'no shells',
    session_id: 'ses_1',
    request_id: 'req_1',
  }),
  record('2026-11-27T09:14:13.000Z', 'mediator', 'session.opened', {
    actor: { user: 'carol' },
    session_id: 'ses_2',
    request_id: 'req_2',
  }),
].join('\n');

function kube(fields: Record<string, unknown>): string {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    verb: 'create',
    user: { username: 'system:serviceaccount:airlock:executor' },
    impersonatedUser: {
      username: 'airlock:session',
      extra: {
        'airlock.dev/user': ['alice'],
        'airlock.dev/session-id': ['ses_1'],
        'airlock.dev/trace-id': [TRACE],
        'airlock.dev/request-id': ['req_1'],
      },
    },
    objectRef: {
      resource: 'pods',
      namespace: 'payments',
      name: 'api-0',
      subresource: 'exec',
      apiVersion: 'v1',
    },
    ...fields,
  });
}

const kubeLog = [
  kube({ auditID: 'a1', stage: 'RequestReceived', stageTimestamp: '2026-11-27T09:14:11.000Z' }),
  kube({
    auditID: 'a1',
    stage: 'ResponseComplete',
    requestURI:
      '/api/v1/namespaces/payments/pods/api-0/exec?command=ps&command=aux&container=app&stdout=true',
    requestReceivedTimestamp: '2026-11-27T09:14:11.000Z',
    stageTimestamp: '2026-11-27T09:14:11.500Z',
    responseStatus: { code: 101 },
  }),
  kube({
    auditID: 'a2',
    stage: 'ResponseComplete',
    stageTimestamp: '2026-11-27T09:14:14.000Z',
    objectRef: { resource: 'pods', namespace: 'payments', name: 'api-0', subresource: 'ephemeralcontainers' },
    responseStatus: { code: 403, message: 'forbidden' },
    verb: 'patch',
  }),
  JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    auditID: 'a3',
    stage: 'ResponseComplete',
    verb: 'list',
    user: { username: 'dave' },
    objectRef: { resource: 'deployments', apiGroup: 'apps', namespace: 'payments' },
    responseStatus: { code: 200 },
    stageTimestamp: '2026-11-27T09:14:11.200Z',
  }),
].join('\n');

const sources = [
  { name: 'kube.log', content: kubeLog },
  { name: 'mediator.jsonl', content: mediator },
  { name: 'broker.jsonl', content: broker },
];

const brief = (entries: readonly TimelineEntry[]) =>
  entries.map((e) => `${e.time.slice(17)} ${e.lane} ${e.event}`);

describe('parseTimelineSource', () => {
  it('maps a Kubernetes audit event: stageTimestamp, airlock extras, readable action, status as decision', () => {
    const { entries, recognised, skipped } = parseTimelineSource('kube.log', kubeLog);
    expect(recognised).toBe(4);
    expect(skipped).toEqual([]);
    expect(entries).toHaveLength(3); // a1's two stages are one entry
    expect(entries[0]).toEqual({
      time: '2026-11-27T09:14:11.500Z',
      lane: 'kubernetes',
      event: 'create',
      actor: 'alice (as airlock:session)',
      target: 'pods/exec payments/api-0 [app] -- ps aux',
      decision: 'allow',
      code: '101',
      session_id: 'ses_1',
      request_id: 'req_1',
      trace_id: TRACE,
      summary: 'create pods/exec payments/api-0 [app] -- ps aux -> 101',
      user: 'alice',
      recording: undefined,
      source: { file: 'kube.log', line: 2 },
      started: '2026-11-27T09:14:11.000Z',
      command: ['ps', 'aux'],
      details: [
        ['stage', 'ResponseComplete'],
        ['received', '2026-11-27T09:14:11.000Z'],
        ['completed', '2026-11-27T09:14:11.500Z'],
        [
          'requestURI',
          '/api/v1/namespaces/payments/pods/api-0/exec?command=ps&command=aux&container=app&stdout=true',
        ],
        ['authenticated as', 'system:serviceaccount:airlock:executor'],
        ['auditID', 'a1'],
      ],
    });
    // Without command= parameters (attach, or a log without the query) there is no command.
    expect(entries[1]?.command).toBeUndefined();
    expect(entries[1]).toMatchObject({
      decision: 'deny',
      code: '403',
      event: 'patch',
      target: 'pods/ephemeralcontainers payments/api-0',
    });
    expect(entries[1]?.summary).toBe('patch pods/ephemeralcontainers payments/api-0 -> 403; forbidden');
    expect(entries[2]).toMatchObject({
      user: 'dave',
      actor: 'dave',
      target: 'deployments.apps payments',
      session_id: undefined,
    });
  });

  it('skips checkpoints silently and reports lines that are neither format', () => {
    const { entries, skipped } = parseTimelineSource('x', `${broker}\nnot json\n{"kind":"Pod"}\n`);
    expect(entries.map((e) => e.event)).toEqual(['request.created', 'request.approved', 'request.created']);
    expect(skipped).toEqual([
      { file: 'x', line: 5, reason: 'not JSON' },
      { file: 'x', line: 6, reason: 'neither an airlock audit record nor a Kubernetes audit event' },
    ]);
  });

  it('reads the recording reference of an exec.exited record', () => {
    const line = record('2026-11-27T09:14:15.000Z', 'mediator', 'exec.exited', {
      details: { exit_code: 0, recording: '/rec/ses_1-1.cast', recording_sha256: 'ab'.repeat(32) },
    });
    const [entry] = parseTimelineSource('m', line).entries;
    expect(entry?.recording).toEqual({ path: '/rec/ses_1-1.cast', sha256: 'ab'.repeat(32) });
    expect(entry?.summary).toBe('exit_code=0; recording=/rec/ses_1-1.cast');
  });
});

describe('mergeTimeline and filterTimeline', () => {
  it('orders every source by time', () => {
    expect(brief(buildTimeline(sources).entries)).toEqual([
      '03.000Z broker request.created',
      '04.000Z broker request.approved',
      '05.000Z broker request.created',
      '10.000Z mediator session.opened',
      '11.200Z kubernetes list',
      '11.500Z kubernetes create',
      '12.000Z mediator intent.denied',
      '13.000Z mediator session.opened',
      '14.000Z kubernetes patch',
    ]);
  });

  it('breaks ties by lane order, then input order', () => {
    const at = '2026-11-27T09:00:00.000Z';
    const mk = (lane: TimelineEntry['lane'], event: string) =>
      ({
        ...parseTimelineSource('x', record(at, 'broker', event, {})).entries[0],
        lane,
      }) as TimelineEntry;
    const merged = mergeTimeline(
      [mk('kubernetes', 'k'), mk('executor', 'e1')],
      [mk('broker', 'b'), mk('executor', 'e2')],
    );
    expect(merged.map((e) => e.event)).toEqual(['b', 'e1', 'e2', 'k']);
  });

  it('--session keeps the session and the broker entries of its requests, not other requests', () => {
    const { entries } = buildTimeline(sources, { session: 'ses_1' });
    expect(brief(entries)).toEqual([
      '03.000Z broker request.created',
      '04.000Z broker request.approved',
      '10.000Z mediator session.opened',
      '11.500Z kubernetes create',
      '12.000Z mediator intent.denied',
      '14.000Z kubernetes patch',
    ]);
  });

  it('filters by trace, request, user and an inclusive time window', () => {
    const all = buildTimeline(sources).entries;
    expect(brief(filterTimeline(all, { trace: TRACE }))).toEqual([
      '10.000Z mediator session.opened',
      '11.500Z kubernetes create',
      '14.000Z kubernetes patch',
    ]);
    expect(filterTimeline(all, { request: 'req_2' }).map((e) => e.event)).toEqual([
      'request.created',
      'session.opened',
    ]);
    expect(filterTimeline(all, { user: 'dave' }).map((e) => e.event)).toEqual(['list']);
    expect(
      brief(
        filterTimeline(all, {
          since: new Date('2026-11-27T09:14:11.500Z'),
          until: new Date('2026-11-27T09:14:13.000Z'),
        }),
      ),
    ).toEqual([
      '11.500Z kubernetes create',
      '12.000Z mediator intent.denied',
      '13.000Z mediator session.opened',
    ]);
    expect(filterTimeline(all, { session: 'ses_1', user: 'bob' }).map((e) => e.event)).toEqual([
      'request.approved',
    ]);
  });
});

describe('renderings', () => {
  it('text: aligned columns, and an ESC in a target never reaches the output raw', () => {
    const entries = buildTimeline(sources, { session: 'ses_1' }).entries;
    const evil = { ...entries[0], target: 'pods/exec ns/\u001b]0;pwned\u0007pod\u202e' } as TimelineEntry;
    const text = renderTimelineText([evil, ...entries]);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toContain('pods/exec ns/\\x1b]0;pwned\\x07pod\\u202e');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME {22}LANE {8}EVENT/);
    expect(lines).toHaveLength(entries.length + 2);
    const laneColumn = (lines[0] ?? '').indexOf('LANE');
    for (const line of lines.slice(1))
      expect(line.slice(laneColumn)).toMatch(/^(broker|mediator|executor|kubernetes) /);
    expect(lines.find((l) => l.includes('intent.denied'))).toContain('deny SHELL_NOT_ALLOWED');
  });

  it('terminalSafe escapes C0, DEL, C1 and bidi controls and nothing else', () => {
    expect(terminalSafe('a\u001b[31mb\u009bc\u007f\u2066é')).toBe('a\\x1b[31mb\\x9bc\\x7f\\u2066é');
  });

  it('JSON: an array with null for absent fields', () => {
    const [first] = JSON.parse(renderTimelineJson(buildTimeline(sources).entries)) as Record<
      string,
      unknown
    >[];
    expect(first).toEqual({
      time: '2026-11-27T09:14:03.000Z',
      lane: 'broker',
      event: 'request.created',
      actor: 'alice',
      target: '',
      decision: null,
      code: null,
      session_id: null,
      request_id: 'req_1',
      trace_id: null,
      summary: '',
      user: 'alice',
      recording: null,
      started: null,
      command: null,
      source: { file: 'broker.jsonl', line: 1 },
    });
    const exec = (
      JSON.parse(renderTimelineJson(parseTimelineSource('kube.log', kubeLog).entries)) as Record<
        string,
        unknown
      >[]
    )[0];
    expect(exec).toMatchObject({ started: '2026-11-27T09:14:11.000Z', command: ['ps', 'aux'] });
  });

  it('HTML: summary, axis tracks, expandable rows; denials marked, every input string escaped, recordings inert', () => {
    const entries = buildTimeline(sources, { session: 'ses_1' }).entries;
    const hostile = {
      ...entries[2],
      target: 'pods/exec payments/api-0 -- sh -c "<script>alert(1)</script>"',
      recording: { path: '/r/<img src=x>.cast', sha256: undefined },
    } as TimelineEntry;
    const html = renderTimelineHtml({
      entries: [...entries, hostile],
      filter: { session: 'ses_1<b>' },
      recordings: [
        {
          ref: '/r/<img src=x>.cast',
          foundAt: 'x.cast',
          frames: [[0.5, 'hi </script><script>alert(2)</script>']],
          problem: undefined,
        },
      ],
    });
    for (const lane of ['broker', 'mediator', 'executor', 'kubernetes'])
      expect(html).toContain(`<div class="track" data-lane="${lane}">`);
    expect(html).toContain('<table class="summary">');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).toContain('filter: session ses_1&lt;b&gt;');
    expect(html).toContain('hi \\u003c/script>\\u003cscript>alert(2)\\u003c/script>');
    expect(html.match(/<details class="row lane-[a-z]+ outcome-deny/g)).toHaveLength(2);
    expect(html.match(/<details class="row /g)).toHaveLength(7);
    expect(html).toContain(
      '<span>7 entries</span><span>2 allowed</span><span>2 denied</span><span>0 closed by revocation or expiry</span>',
    );
    expect(html).toContain('<code class="command">ps aux</code>');
    expect(html).toContain('class="player" id="recording-0" data-frames="frames-0"');
    expect(html).toContain('<a href="#recording-0">');
    expect(html).not.toMatch(/(src|href)="?https?:/);
    expect(html.match(/<script>/g)).toHaveLength(1); // only the player
  });

  it('htmlEscape escapes the five characters', () => {
    expect(htmlEscape(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
