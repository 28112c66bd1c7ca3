import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/in-memory-audit-trail.js';
import { AirlockError } from '../core/errors.js';
import { testPolicy } from '../core/policy/testing.js';
import type { ExecutorClient } from '../core/rpc/executor-client.js';
import type { CommandAudit, CommandContext } from './command-context.js';
import { auditFailure, authorizeAndAudit } from './intent-audit.js';
import { parseForwardDestination } from './port-forward.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

function context(audit: InMemoryAuditTrail, audited?: CommandAudit): CommandContext {
  return {
    // authorizeAndAudit never calls the executor; a call would throw here.
    client: {} as ExecutorClient,
    session: {
      id: 'sess-1',
      requestId: 'req-1',
      user: 'alice@example.com',
      groups: ['jit:debug:dev:payments'],
      scope: { profile: 'debug', cluster: 'dev', namespace: 'payments', podPatterns: ['api-*'] },
      expiresAtMs: Date.parse('2026-12-01T13:00:00Z'),
    },
    policy: () => testPolicy(),
    audit,
    clock: () => new Date('2026-12-01T12:00:00Z'),
    traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
    clientAddress: '127.0.0.1',
    ...(audited ? { audited } : {}),
  };
}

const forward = { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 8080 } as const;
const forwardTarget = { namespace: 'payments', pod: 'api-0', port: 8080, resource: 'pods/portforward' };

describe('authorizeAndAudit: the one path every intent of a session goes through', () => {
  it('records an allowed port-forward as intent.allowed, durably, with session, request and trace ids', async () => {
    const audit = new InMemoryAuditTrail('mediator');
    const audited: CommandAudit = { failureRecorded: false };
    await authorizeAndAudit(context(audit, audited), forward, forwardTarget);
    expect(audit.appended()).toHaveLength(1);
    expect(audit.appended()[0]!.durable).toBe(true);
    expect(audit.events()[0]).toMatchObject({
      event: 'intent.allowed',
      decision: 'allow',
      actor: { user: 'alice@example.com', groups: ['jit:debug:dev:payments'], address: '127.0.0.1' },
      target: forwardTarget,
      session_id: 'sess-1',
      request_id: 'req-1',
      trace_id: TRACE_ID,
      details: { action: 'port-forward' },
    });
    expect(audited).toEqual({
      failureRecorded: false,
      allowed: { action: 'port-forward', target: forwardTarget },
    });
  });

  it('refuses a port the profile does not allow with PORT_NOT_ALLOWED, recorded as intent.denied once', async () => {
    const audit = new InMemoryAuditTrail('mediator');
    const audited: CommandAudit = { failureRecorded: false };
    const refused = authorizeAndAudit(context(audit, audited), { ...forward, port: 22 }, forwardTarget);
    await expect(refused).rejects.toMatchObject({ code: 'PORT_NOT_ALLOWED' });
    expect(audit.events()).toHaveLength(1);
    expect(audit.events()[0]).toMatchObject({
      event: 'intent.denied',
      decision: 'deny',
      code: 'PORT_NOT_ALLOWED',
      session_id: 'sess-1',
      trace_id: TRACE_ID,
    });
    expect(audited.failureRecorded).toBe(true);
    expect(audited.allowed).toBeUndefined();
  });

  it('records a failure after an allowed forward under intent.denied, with the code that ended it', async () => {
    const audit = new InMemoryAuditTrail('mediator');
    const ctx = context(audit);
    await auditFailure(
      ctx,
      { action: 'port-forward', target: forwardTarget },
      new AirlockError('EXECUTOR_UNAVAILABLE', 'the executor is unavailable'),
    );
    expect(audit.events()[0]).toMatchObject({
      event: 'intent.denied',
      code: 'EXECUTOR_UNAVAILABLE',
      target: forwardTarget,
      session_id: 'sess-1',
      details: { action: 'port-forward' },
    });
  });
});

describe('parseForwardDestination', () => {
  it.each([
    ['api-0', { namespace: 'payments', pod: 'api-0' }],
    ['api-0.shop-eu', { namespace: 'shop-eu', pod: 'api-0' }],
    ['shop-eu/api-0', { namespace: 'shop-eu', pod: 'api-0' }],
  ])('reads %s as a pod and its namespace', (host, expected) => {
    expect(parseForwardDestination(host, 'payments')).toEqual(expected);
  });
});
