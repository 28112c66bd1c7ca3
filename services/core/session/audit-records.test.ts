import { describe, expect, it } from 'vitest';
import { auditBase, auditTargetOf, sessionTarget } from './audit-records.js';
import { targetNamespace } from './target-namespace.js';

const session = {
  id: 'sess-1',
  requestId: 'req-1',
  user: 'alice',
  groups: ['jit:debug:payments'],
  clientAddress: '10.0.0.1:5555',
  scope: { cluster: 'dev', namespace: 'payments' },
};

describe('auditBase', () => {
  it('names the person, groups, address, session, request and trace', () => {
    expect(auditBase(session, { traceId: 't', spanId: 's' })).toEqual({
      actor: { user: 'alice', groups: ['jit:debug:payments'], address: '10.0.0.1:5555' },
      session_id: 'sess-1',
      request_id: 'req-1',
      trace_id: 't',
      span_id: 's',
    });
    expect(sessionTarget(session)).toEqual({ cluster: 'dev', namespace: 'payments' });
  });
});

describe('auditTargetOf', () => {
  const at = { cluster: 'dev', namespace: 'payments', pod: 'api-0' };

  it('names the subresource of each pod action', () => {
    expect(auditTargetOf({ action: 'exec', ...at, argv: ['ps'] })).toEqual({
      ...at,
      resource: 'pods/exec',
      argv: ['ps'],
    });
    expect(auditTargetOf({ action: 'shell', ...at })).toEqual({ ...at, resource: 'pods/exec', argv: [] });
    expect(auditTargetOf({ action: 'debug', ...at, image: 'busybox' }, ['sh'])).toEqual({
      ...at,
      resource: 'pods/ephemeralcontainers',
      argv: ['sh'],
    });
    expect(auditTargetOf({ action: 'logs', ...at, container: '' })).toEqual({ ...at, resource: 'pods/log' });
    expect(auditTargetOf({ action: 'port-forward', ...at, port: 8080 })).toEqual({
      ...at,
      resource: 'pods/portforward',
      port: 8080,
    });
  });

  it('names the resource of a read, without a namespace for cluster-scoped kinds', () => {
    expect(
      auditTargetOf({ action: 'get', cluster: 'dev', namespace: 'payments', resource: 'pods', pod: 'a' }),
    ).toEqual({ cluster: 'dev', namespace: 'payments', resource: 'pods', pod: 'a' });
    expect(auditTargetOf({ action: 'list', cluster: 'dev', namespace: '', resource: 'nodes' })).toEqual({
      cluster: 'dev',
      namespace: undefined,
      resource: 'nodes',
    });
  });
});

describe('targetNamespace', () => {
  it("is the requested namespace, or else the session's", () => {
    expect(targetNamespace('shop', session.scope)).toBe('shop');
    expect(targetNamespace('', session.scope)).toBe('payments');
    expect(targetNamespace(undefined, session.scope)).toBe('payments');
  });
});
