import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAirlockPodActions, parseKubeAuditSlice, reconcile } from './reconcile.js';

function kubeEvent(
  id: string,
  fields: { stage?: string; sub?: string; ns?: string; session?: string; trace?: string; at?: string },
) {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    auditID: id,
    stage: fields.stage ?? 'ResponseComplete',
    verb: 'create',
    user: { username: fields.session ? 'system:serviceaccount:airlock-system:airlock-executor' : 'admin' },
    ...(fields.session
      ? {
          impersonatedUser: {
            username: 'airlock:session',
            extra: {
              'airlock.dev/session-id': [fields.session],
              ...(fields.trace ? { 'airlock.dev/trace-id': [fields.trace] } : {}),
            },
          },
        }
      : {}),
    objectRef: {
      resource: 'pods',
      subresource: fields.sub ?? 'exec',
      namespace: fields.ns ?? 'payments',
      name: 'api-0',
    },
    responseStatus: { code: 101 },
    stageTimestamp: fields.at ?? '2026-11-27T09:00:01.000Z',
  });
}

function action(event: string, session: string, at = '2026-11-27T09:00:00.500Z', trace = 't1') {
  return JSON.stringify({
    type: 'event',
    tier: 'executor',
    event,
    time: at,
    session_id: session,
    trace_id: trace,
    actor: { user: 'alice' },
    target: { namespace: 'payments', pod: 'api-0' },
  });
}

const boundary = kubeEvent('edge', { sub: 'log', at: '2026-11-27T09:00:00.000Z' });

describe('reconcile', () => {
  it('matches by session, trace, pod and kind; dedupes stages by auditID', () => {
    const log = [
      boundary,
      kubeEvent('a', { stage: 'ResponseStarted', session: 's1', trace: 't1' }),
      kubeEvent('a', { session: 's1', trace: 't1' }),
      kubeEvent('a', { stage: 'RequestReceived', session: 's1', trace: 't1' }),
    ].join('\n');
    const slice = parseKubeAuditSlice('kube.log', log);
    expect(slice.accesses).toHaveLength(1);
    const result = reconcile([slice], parseAirlockPodActions('executor.jsonl', action('exec.started', 's1')));
    expect(result).toMatchObject({
      ok: true,
      matched: 1,
      kubeOrphans: [],
      airlockOrphans: [],
      namespaces: ['payments'],
    });
  });

  it('reports an exec without a session, one under a session with no such action, and an unseen action', () => {
    const log = [
      boundary,
      kubeEvent('direct', {}),
      kubeEvent('outside', { session: 's1', trace: 't9', sub: 'portforward' }),
      kubeEvent('other-ns', { ns: 'kube-system' }),
    ].join('\n');
    const actions = [action('exec.started', 's1'), action('debug.added', 's2')].join('\n');
    const result = reconcile(
      [parseKubeAuditSlice('kube.log', log)],
      parseAirlockPodActions('executor.jsonl', actions),
    );
    expect(result.ok).toBe(false);
    expect(result.kubeOrphans.map((o) => o.auditId)).toEqual(['direct', 'outside']);
    expect(result.airlockOrphans.map((a) => [a.event, a.sessionId, a.source.line])).toEqual([
      ['exec.started', 's1', 1],
      ['debug.added', 's2', 2],
    ]);
    // --namespace widens what is governed.
    const wide = reconcile([parseKubeAuditSlice('kube.log', log)], [], ['payments', 'kube-system']);
    expect(wide.kubeOrphans.map((o) => o.auditId)).toEqual(['direct', 'outside', 'other-ns']);
  });

  it('does not report actions outside the time the Kubernetes log covers', () => {
    const slice = parseKubeAuditSlice('kube.log', boundary);
    const old = parseAirlockPodActions(
      'executor.jsonl',
      action('exec.started', 's1', '2026-11-26T00:00:00.000Z'),
    );
    expect(reconcile([slice], old, ['payments']).ok).toBe(true);
    expect(reconcile([parseKubeAuditSlice('empty.log', '')], old, ['payments']).airlockOrphans).toHaveLength(
      1,
    );
  });

  it('parses arbitrary input without throwing (fast-check)', () => {
    const line = fc.oneof(
      fc.string(),
      fc.json(),
      fc.constant(kubeEvent('x', {})),
      fc.constant(action('exec.started', 's')),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        const text = lines.join('\n');
        const slice = parseKubeAuditSlice('k', text);
        const actions = parseAirlockPodActions('t', text);
        expect(() => reconcile([slice], actions)).not.toThrow();
      }),
    );
  });
});

describe('reconcile: allowed intents', () => {
  it('an allowed intent the API server refused matches its event but is not expected to be seen itself', () => {
    const intent = JSON.stringify({
      type: 'event',
      tier: 'executor',
      event: 'intent.allowed',
      time: '2026-11-27T09:00:00.500Z',
      session_id: 's1',
      target: { namespace: 'payments', pod: 'api-0', resource: 'pods/ephemeralcontainers' },
    });
    const log = [boundary, kubeEvent('debug', { session: 's1', sub: 'ephemeralcontainers' })].join('\n');
    const actions = parseAirlockPodActions('executor.jsonl', intent);
    expect(reconcile([parseKubeAuditSlice('kube.log', log)], actions)).toMatchObject({
      ok: true,
      matched: 1,
    });
    expect(reconcile([parseKubeAuditSlice('kube.log', boundary)], actions).ok).toBe(true);
  });
});
