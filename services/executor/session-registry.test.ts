import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { type ExecutorSession, SessionRegistry } from './session-registry.js';

/** Only what the registry reads; the rest of a session does not matter here. */
function session(id: string, expiresAt: Date, released: string[]): ExecutorSession {
  return {
    id,
    grantFingerprint: `fp-${id}`,
    expiresAt,
    kube: { clients: () => ({}) as never, release: async () => void released.push(id) },
  } as unknown as ExecutorSession;
}

describe('SessionRegistry: onEnded', () => {
  it('hears of every way a session ends, once each: close, replacement, sweep, shutdown and expiry', async () => {
    const ended: string[] = [];
    const released: string[] = [];
    const registry = new SessionRegistry(
      () => new Date(),
      () => {},
      (s) => {
        ended.push(s.id);
        void s.kube.release();
      },
    );
    const later = new Date(Date.now() + 3600_000);
    registry.open(session('closed', later, released));
    registry.close('closed', new AirlockError('SESSION_EXPIRED', 'session closed'));
    registry.close('closed', new AirlockError('SESSION_EXPIRED', 'session closed'));
    expect(ended).toEqual(['closed']);

    const first = session('replaced', later, released);
    registry.open(first);
    registry.open(session('replaced', later, released));
    expect(ended).toEqual(['closed', 'replaced']);

    registry.open(session('revoked', later, released));
    registry.sweep((s) => (s.id === 'revoked' ? new AirlockError('CERT_REVOKED', 'revoked') : undefined));
    expect(ended).toEqual(['closed', 'replaced', 'revoked']);

    registry.closeAll(new AirlockError('EXECUTOR_SHUTDOWN', 'shutting down'));
    expect(ended).toEqual(['closed', 'replaced', 'revoked', 'replaced']);

    registry.open(session('expiring', new Date(Date.now() + 20), released));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ended).toEqual(['closed', 'replaced', 'revoked', 'replaced', 'expiring']);
    expect(released).toEqual(ended);
    expect(registry.size).toBe(0);
  });
});
