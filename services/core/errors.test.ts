import { describe, expect, it } from 'vitest';
import { AirlockError, ERROR_CODES, isErrorCode, isPolicyDenial, POLICY_DENIAL_CODES } from './errors.js';

describe('the error catalogue', () => {
  it('lists every code once', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ['CA_KEY_EXISTS', 'ASCIICAST_MALFORMED', 'KUBECONFIG_INVALID', 'AUDIT_EMPTY'])
      expect(isErrorCode(code)).toBe(true);
  });

  it('names as policy denials exactly the codes authorizeIntent denies an intent with', () => {
    expect([...POLICY_DENIAL_CODES].sort()).toEqual(
      [
        'ACTION_NOT_ALLOWED',
        'COMMAND_DENIED',
        'COMMAND_NOT_ALLOWED',
        'IMAGE_NOT_ALLOWED',
        'PORT_NOT_ALLOWED',
        'PROFILE_UNKNOWN',
        'SCOPE_CLUSTER',
        'SCOPE_CONTAINER',
        'SCOPE_NAMESPACE',
        'SCOPE_POD',
        'SCOPE_RUNBOOK',
        'SCOPE_RUNBOOK_STALE',
        'SHELL_NOT_ALLOWED',
        'MODERATOR_ONLY',
        'MODERATION_REJECTED',
        'MODERATION_TERMINATED',
        'MODERATION_UNAPPROVED',
      ].sort(),
    );
  });

  it('isPolicyDenial: true for a policy denial, false for a failure of an allowed action or another error', () => {
    expect(isPolicyDenial(new AirlockError('SCOPE_POD', 'no'))).toBe(true);
    expect(isPolicyDenial(new AirlockError('KUBERNETES_FORBIDDEN', 'rbac'))).toBe(false);
    expect(isPolicyDenial(new AirlockError('TTL_TOO_LONG', 'request'))).toBe(false);
    expect(isPolicyDenial(Object.assign(new Error('x'), { code: 'SCOPE_POD' }))).toBe(false);
  });
});
