import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { jitGroupNames, renderGroups } from './groups.js';
import { testPolicy } from './testing.js';
import type { Profile } from './types.js';

const policy = testPolicy();

describe('renderGroups', () => {
  it('fills {cluster}, {namespace} and {profile}', () => {
    const profile: Profile = {
      ...policy.profiles.debug!,
      groups: ['jit:{profile}:{cluster}:{namespace}', 'jit:all'],
    };
    expect(renderGroups(profile, { profile: 'debug', cluster: 'prod-eu', namespace: 'payments' })).toEqual([
      'jit:debug:prod-eu:payments',
      'jit:all',
    ]);
  });

  it('refuses malformed scope values instead of rendering them', () => {
    const profile = policy.profiles.debug!;
    expect(() => renderGroups(profile, { profile: 'debug', cluster: 'c', namespace: 'a:b' })).toThrowError(
      expect.objectContaining({ code: 'SCOPE_NAMESPACE' }),
    );
    expect(() =>
      renderGroups(profile, { profile: 'debug', cluster: 'x:system', namespace: 'a' }),
    ).toThrowError(expect.objectContaining({ code: 'SCOPE_CLUSTER' }));
  });

  it('refuses a template that renders to a system: group even if it bypassed validation', () => {
    const profile: Profile = { ...policy.profiles.debug!, groups: ['{namespace}:masters'] };
    let error: unknown;
    try {
      renderGroups(profile, { profile: 'debug', cluster: 'dev', namespace: 'system' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('POLICY_INVALID');
  });
});

describe('jitGroupNames', () => {
  it('lists every concrete group for the given clusters and namespaces, sorted', () => {
    expect(
      jitGroupNames(policy, {
        clusters: ['dev', 'prod-eu', 'staging'],
        namespaces: ['payments', 'shop-de', 'default'],
      }),
    ).toEqual([
      'jit:debug:dev:payments',
      'jit:debug:dev:shop-de',
      'jit:debug:prod-eu:payments',
      'jit:debug:prod-eu:shop-de',
      'jit:read',
      'jit:shell:default',
      'jit:shell:payments',
      'jit:shell:shop-de',
    ]);
  });
});
