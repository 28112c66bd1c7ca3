import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import {
  IMPERSONATED_USER,
  IMPERSONATION_EXTRA_KEYS,
  impersonatedSession,
  impersonationHeaders,
  sessionGroups,
  sessionImpersonation,
} from './kube-impersonation.js';
import { testPolicyJson } from './testing.js';
import { loadPolicy } from './validate.js';

const subject = {
  sessionId: 'Sess_1~x',
  user: 'alice',
  groups: ['jit:debug:payments', 'jit:read:payments'],
  requestId: 'req-1',
};

describe('sessionImpersonation', () => {
  it('is airlock:session with the groups, and the person and ids as extras (trace id only when known)', () => {
    expect(sessionImpersonation(subject, 'abc')).toEqual({
      user: 'airlock:session',
      groups: ['jit:debug:payments', 'jit:read:payments'],
      extra: {
        'airlock.dev/user': ['alice'],
        'airlock.dev/session-id': ['Sess_1~x'],
        'airlock.dev/request-id': ['req-1'],
        'airlock.dev/trace-id': ['abc'],
      },
    });
    expect(sessionImpersonation(subject).extra['airlock.dev/trace-id']).toBeUndefined();
  });

  it('sends only the extra keys RBAC grants, and reads back what it sent', () => {
    const sent = sessionImpersonation(subject, 'abc');
    expect(sent.user).toBe(IMPERSONATED_USER);
    for (const key of Object.keys(sent.extra)) expect(IMPERSONATION_EXTRA_KEYS).toContain(key);
    const readBack = impersonatedSession((key) => sent.extra[key]?.[0]);
    expect(readBack).toEqual({ user: 'alice', sessionId: 'Sess_1~x', requestId: 'req-1', traceId: 'abc' });
  });
});

describe('impersonationHeaders', () => {
  it('writes one header line per group and per extra value, extra keys lower-cased and percent-encoded', () => {
    expect(impersonationHeaders(sessionImpersonation(subject, 'abc'))).toEqual({
      'Impersonate-User': 'airlock:session',
      'Impersonate-Group': ['jit:debug:payments', 'jit:read:payments'],
      'Impersonate-Extra-airlock.dev%2Fuser': ['alice'],
      'Impersonate-Extra-airlock.dev%2Fsession-id': ['Sess_1~x'],
      'Impersonate-Extra-airlock.dev%2Frequest-id': ['req-1'],
      'Impersonate-Extra-airlock.dev%2Ftrace-id': ['abc'],
    });
  });

  it('sends no group header and no empty extra', () => {
    expect(impersonationHeaders({ user: 'u', groups: [], extra: { k: [] } })).toEqual({
      'Impersonate-User': 'u',
    });
  });
});

describe('sessionGroups', () => {
  const profile = loadPolicy(JSON.stringify(testPolicyJson())).profiles.debug!;
  const scope = { profile: 'debug', cluster: 'prod-eu', namespace: 'payments' };

  it("renders the profile's templates for the scope", () => {
    expect(sessionGroups(profile, { ...scope, groups: ['jit:debug:prod-eu:payments'] })).toEqual([
      'jit:debug:prod-eu:payments',
    ]);
    expect(sessionGroups(profile, { ...scope, groups: [] })).toEqual(['jit:debug:prod-eu:payments']);
  });

  it('refuses a certificate naming a group its profile does not grant (CERT_SCOPE_INVALID)', () => {
    let caught: unknown;
    try {
      sessionGroups(profile, { ...scope, groups: ['jit:debug:prod-eu:payments', 'jit:admin'] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AirlockError);
    expect((caught as AirlockError).code).toBe('CERT_SCOPE_INVALID');
    expect((caught as AirlockError).detail).toBe('jit:admin');
  });
});
