import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { InMemoryAuditTrail } from './in-memory-audit-trail.js';

const clock = () => new Date('2026-11-27T05:00:00.000Z');

describe('InMemoryAuditTrail', () => {
  it('returns the appended events with v, time and tier added, decisions durable by default', async () => {
    const trail = new InMemoryAuditTrail('mediator', clock);
    await trail.append({ event: 'auth.accepted', actor: { user: 'alice' }, target: {}, decision: 'allow' });
    await trail.append({ event: 'connection.closed', actor: {}, target: {} });
    expect(trail.events()).toEqual([
      {
        v: 1,
        time: '2026-11-27T05:00:00.000Z',
        tier: 'mediator',
        event: 'auth.accepted',
        actor: { user: 'alice' },
        target: {},
        decision: 'allow',
      },
      {
        v: 1,
        time: '2026-11-27T05:00:00.000Z',
        tier: 'mediator',
        event: 'connection.closed',
        actor: {},
        target: {},
      },
    ]);
    expect(trail.appended().map((e) => e.durable)).toEqual([true, false]);
  });

  it('rejects with AUDIT_UNAVAILABLE after breakWith and after close, and turns unhealthy', async () => {
    const broken = new InMemoryAuditTrail('broker', clock);
    expect(broken.healthy()).toBe(true);
    broken.breakWith('disk full');
    expect(broken.healthy()).toBe(false);
    await expect(broken.append({ event: 'request.created', actor: {}, target: {} })).rejects.toSatisfy(
      (e) => e instanceof AirlockError && e.code === 'AUDIT_UNAVAILABLE',
    );
    const closed = new InMemoryAuditTrail('broker', clock);
    await closed.close();
    expect(closed.healthy()).toBe(false);
    expect(closed.checkpointCount()).toBe(1);
    await expect(closed.append({ event: 'request.created', actor: {}, target: {} })).rejects.toSatisfy(
      (e) => e instanceof AirlockError && e.code === 'AUDIT_UNAVAILABLE',
    );
  });
});
