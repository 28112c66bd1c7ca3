import { describe, expect, it } from 'vitest';
import type { Intent } from '../core/policy/index.js';
import type { CertificateIdentity } from '../core/ssh-cert/index.js';
import { certificateDenial } from './certificate-restrictions.js';

const identity = (extensions: Record<string, string>, forceCommand?: string) =>
  ({ extensions, forceCommand }) as unknown as CertificateIdentity;
const ALL = { 'permit-pty': '', 'permit-port-forwarding': '' };
const rule = (id: CertificateIdentity, intent: Intent) => certificateDenial(id, intent, 'payments')?.rule;

describe('certificateDenial', () => {
  it('needs permit-port-forwarding for a port-forward, whatever force-command says', () => {
    const forward: Intent = { action: 'port-forward', namespace: 'payments', pod: 'api-0', port: 8080 };
    expect(rule(identity({ 'permit-pty': '' }), forward)).toBe('certificate.permit-port-forwarding');
    expect(rule(identity(ALL, 'pods'), forward)).toBeUndefined();
  });

  it('needs permit-pty for a terminal', () => {
    const tty: Intent = { action: 'exec', namespace: 'payments', pod: 'api-0', argv: ['sh'], tty: true };
    expect(rule(identity({}), tty)).toBe('certificate.permit-pty');
    expect(rule(identity(ALL), tty)).toBeUndefined();
    expect(rule(identity({}), { ...tty, tty: false })).toBeUndefined();
  });

  it('allows exactly the executor calls of the force-command', () => {
    const forced = identity(ALL, 'exec api-0 -- echo hi');
    const exec: Intent = { action: 'exec', namespace: 'payments', pod: 'api-0', argv: ['echo', 'hi'] };
    expect(rule(forced, exec)).toBeUndefined();
    for (const other of [
      { ...exec, argv: ['echo', 'bye'] },
      { ...exec, pod: 'api-1' },
      { ...exec, namespace: 'shop' },
      { action: 'logs', namespace: 'payments', pod: 'api-0' },
      { action: 'list', namespace: 'payments', resource: 'pods' },
    ] as Intent[]) {
      expect(rule(forced, other), JSON.stringify(other)).toBe('certificate.force-command');
    }
    const logs = identity(ALL, 'logs shop/api-0 -f');
    expect(rule(logs, { action: 'logs', namespace: 'shop', pod: 'api-0' })).toBeUndefined();
    expect(rule(identity(ALL, 'pods'), { action: 'list', namespace: 'payments', resource: 'pods' })).toBe(
      undefined,
    );
  });

  it('allows nothing for a force-command that makes no call or does not parse', () => {
    const intent: Intent = { action: 'list', namespace: 'payments', resource: 'pods' };
    expect(rule(identity(ALL, 'whoami'), intent)).toBe('certificate.force-command');
    expect(rule(identity(ALL, 'frobnicate "'), intent)).toBe('certificate.force-command');
  });
});
