import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AirlockError } from '../errors.js';
import { scopeOf } from '../session/session-scope.js';
import {
  type AirlockScope,
  formatAirlockScope,
  parseAirlockScope,
  validateAirlockScope,
} from '../ssh-cert/airlock-scope.js';
import { authorizeIntent } from './authorize.js';
import { decideRequest } from './decide.js';
import { roleRequest, testPolicy, testPolicyJson } from './testing.js';
import { validatePolicy } from './validate.js';

// biome-ignore lint/suspicious/noExplicitAny: tests poke at untyped JSON
type Any = any;

const MODERATION = { requiredGroups: ['shell-leads'], min: 1, mode: 'approve-each-command' };

/** The test policy with the `shell` profile moderated (it lists no runbooks). */
function moderatedJson(edit?: (json: Any) => void) {
  const json: Any = testPolicyJson();
  json.profiles.shell.moderation = { ...MODERATION };
  edit?.(json);
  return json;
}

describe('policy: moderation', () => {
  it('accepts a moderated profile whose moderators cannot request it', () => {
    expect(validatePolicy(moderatedJson())).toEqual([]);
  });

  it('rejects a moderator group that is also a requester group: the owner could moderate themselves', () => {
    const errors = validatePolicy(
      moderatedJson((j) => {
        j.profiles.shell.moderation.requiredGroups = ['shell-leads', 'sre'];
      }),
    );
    expect(errors).toEqual([
      {
        path: 'profiles.shell.moderation.requiredGroups[1]',
        message: 'sre is also a requester group: a requester could moderate their own session',
      },
    ]);
  });

  it('rejects a moderated profile that offers a runbook to machine identities', () => {
    const errors = validatePolicy(
      moderatedJson((j) => {
        j.profiles.debug.moderation = { requiredGroups: ['leads'], min: 1, mode: 'observe' };
      }),
    );
    expect(errors).toEqual([
      {
        path: 'profiles.debug.runbooks[0]',
        message: expect.stringContaining('runbook snapshot is for machine identities'),
      },
    ]);
  });

  it('names schema problems of moderation by path', () => {
    const errors = validatePolicy(
      moderatedJson((j) => {
        j.profiles.shell.moderation = { requiredGroups: [], min: 0, mode: 'watch', extra: 1 };
      }),
    );
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
    expect(byPath).toMatchObject({
      'profiles.shell.moderation.requiredGroups': expect.stringContaining('must NOT have fewer than 1'),
      'profiles.shell.moderation.min': 'must be >= 1',
      'profiles.shell.moderation.mode': 'must be one of "observe", "approve-each-command"',
      'profiles.shell.moderation.extra': 'is not a known field',
    });
  });
});

/** The test policy with `shell` moderated, observer groups included. */
const ROLE_POLICY = testPolicy((j) => {
  (j.profiles.shell as Any).moderation = { ...MODERATION, observerGroups: ['shell-watchers'] };
});
const NOW = new Date('2026-12-01T10:00:00Z');

describe('decideRequest: the moderator role', () => {
  const policy = ROLE_POLICY;
  const scope = roleRequest('moderator');
  const now = NOW;

  it('auto-approves a person in a moderator group', () => {
    const d = decideRequest(policy, { user: 'lea', groups: ['shell-leads'], kind: 'human' }, scope, now);
    expect(d).toMatchObject({ decision: 'auto-approved', rule: 'profiles.shell.moderation.requiredGroups' });
  });

  it('denies a requester of the profile who is in no moderator group', () => {
    const d = decideRequest(policy, { user: 'sam', groups: ['sre'], kind: 'human' }, scope, now);
    expect(d).toMatchObject({ decision: 'denied', code: 'REQUEST_DENIED' });
  });

  it('denies a machine identity and a profile without moderation', () => {
    const machine = decideRequest(
      policy,
      { user: 'bot', groups: ['shell-leads'], kind: 'machine' },
      scope,
      now,
    );
    expect(machine).toMatchObject({ decision: 'denied', code: 'REQUEST_DENIED' });
    const other = decideRequest(
      policy,
      { user: 'lea', groups: ['shell-leads', 'devs'], kind: 'human' },
      { ...scope, profile: 'debug', cluster: 'dev', podPatterns: ['api-*'] },
      now,
    );
    expect(other).toMatchObject({ decision: 'denied', rule: 'profiles.debug.moderation' });
  });
});

const BASE: AirlockScope = {
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['*'],
  profile: 'shell',
  requestId: 'req-1',
  groups: [],
};

describe('the signed scope: moderation and moderator', () => {
  it('round-trips both members canonically and carries them through scopeOf', () => {
    const owner = {
      ...BASE,
      moderation: { requiredGroups: ['shell-leads'], min: 2, mode: 'observe' as const },
    };
    const text = formatAirlockScope(owner);
    expect(text).toBe(
      '{"cluster":"prod-eu","namespace":"payments","podPatterns":["*"],"profile":"shell","requestId":"req-1",' +
        '"groups":[],"moderation":{"requiredGroups":["shell-leads"],"min":2,"mode":"observe"}}',
    );
    expect(scopeOf(parseAirlockScope(text)).moderation).toEqual(owner.moderation);
    const moderator = { ...BASE, moderator: { groups: ['shell-leads'] } };
    expect(scopeOf(parseAirlockScope(formatAirlockScope(moderator))).moderator).toEqual({
      groups: ['shell-leads'],
    });
  });

  it('refuses malformed members and both at once with CERT_SCOPE_INVALID', () => {
    const bad: unknown[] = [
      { ...BASE, moderation: { requiredGroups: ['a'], min: 0, mode: 'observe' } },
      { ...BASE, moderation: { requiredGroups: ['a'], min: 1.5, mode: 'observe' } },
      { ...BASE, moderation: { requiredGroups: [], min: 1, mode: 'observe' } },
      { ...BASE, moderation: { requiredGroups: ['a'], min: 1, mode: 'watch' } },
      { ...BASE, moderation: { requiredGroups: ['a'], min: 1, mode: 'observe', extra: true } },
      { ...BASE, moderator: { groups: [] } },
      { ...BASE, moderator: { groups: ['a'], role: 'owner' } },
      {
        ...BASE,
        moderator: { groups: ['a'] },
        moderation: { requiredGroups: ['a'], min: 1, mode: 'observe' },
      },
    ];
    for (const value of bad) {
      expect(() => validateAirlockScope(value)).toThrow(
        expect.objectContaining({ code: 'CERT_SCOPE_INVALID' }) as AirlockError,
      );
    }
  });

  it('any JSON value as moderation or moderator is either refused with CERT_SCOPE_INVALID or round-trips', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, asModerator) => {
        const scope = { ...BASE, [asModerator ? 'moderator' : 'moderation']: value };
        let valid: AirlockScope;
        try {
          valid = validateAirlockScope(scope);
        } catch (error) {
          expect((error as AirlockError).code).toBe('CERT_SCOPE_INVALID');
          return;
        }
        expect(parseAirlockScope(formatAirlockScope(valid))).toEqual(valid);
      }),
    );
  });
});

describe('authorizeIntent: a moderator certificate never acts', () => {
  it('denies every intent with MODERATOR_ONLY, even one the profile allows', () => {
    const policy = testPolicy();
    const scope = scopeOf({ ...BASE, moderator: { groups: ['shell-leads'] } });
    const intent = { action: 'exec' as const, namespace: 'payments', pod: 'api-0', argv: ['ps', 'aux'] };
    expect(authorizeIntent(policy, scopeOf(BASE), intent)).toMatchObject({ allow: true });
    expect(authorizeIntent(policy, scope, intent)).toMatchObject({ allow: false, code: 'MODERATOR_ONLY' });
  });
});

describe('policy: the observer role', () => {
  it('accepts observerGroups, even ones that may request the profile (watching is no second pair of eyes)', () => {
    const json: Any = testPolicyJson();
    json.profiles.shell.moderation = { ...MODERATION, observerGroups: ['shell-watchers', 'sre'] };
    expect(validatePolicy(json)).toEqual([]);
  });

  it('lint: rejects an observer group that is also a moderator group', () => {
    const json: Any = testPolicyJson();
    json.profiles.shell.moderation = { ...MODERATION, observerGroups: ['shell-watchers', 'shell-leads'] };
    expect(validatePolicy(json)).toEqual([
      {
        path: 'profiles.shell.moderation.observerGroups[1]',
        message:
          'shell-leads is also a moderator group: moderators may ask for the observer role anyway; name it once',
      },
    ]);
  });

  it('names schema problems of observerGroups by path', () => {
    const json: Any = testPolicyJson();
    json.profiles.shell.moderation = { ...MODERATION, observerGroups: [] };
    expect(validatePolicy(json)).toEqual([
      {
        path: 'profiles.shell.moderation.observerGroups',
        message: expect.stringContaining('must NOT have fewer than 1'),
      },
    ]);
  });
});

describe('decideRequest: the observer role', () => {
  const policy = ROLE_POLICY;
  const scope = roleRequest('observer');
  const now = NOW;

  it('auto-approves a person in an observer group, and a moderator asking to only observe', () => {
    for (const groups of [['shell-watchers'], ['shell-leads']]) {
      const d = decideRequest(policy, { user: 'obi', groups, kind: 'human' }, scope, now);
      expect(d).toMatchObject({
        decision: 'auto-approved',
        rule: 'profiles.shell.moderation.observerGroups',
      });
    }
  });

  it('an observer group does not give the moderator role', () => {
    const d = decideRequest(
      policy,
      { user: 'obi', groups: ['shell-watchers'], kind: 'human' },
      { ...scope, role: 'moderator' },
      now,
    );
    expect(d).toMatchObject({ decision: 'denied', code: 'REQUEST_DENIED' });
  });

  it('denies a person in neither group, a machine identity, a runbook and a profile without moderation', () => {
    const denials = [
      decideRequest(policy, { user: 'sam', groups: ['sre'], kind: 'human' }, scope, now),
      decideRequest(policy, { user: 'bot', groups: ['shell-watchers'], kind: 'machine' }, scope, now),
      decideRequest(
        policy,
        { user: 'obi', groups: ['shell-watchers'], kind: 'human' },
        { ...scope, runbook: 'snapshot' },
        now,
      ),
      decideRequest(
        policy,
        { user: 'obi', groups: ['shell-watchers', 'devs'], kind: 'human' },
        { ...scope, profile: 'debug', cluster: 'dev', podPatterns: ['api-*'] },
        now,
      ),
    ];
    for (const d of denials) expect(d).toMatchObject({ decision: 'denied', code: 'REQUEST_DENIED' });
  });
});

describe('the signed scope: moderator role observer', () => {
  it('round-trips canonically and is carried through scopeOf', () => {
    const observer = { ...BASE, moderator: { groups: ['shell-watchers'], role: 'observer' as const } };
    const text = formatAirlockScope(observer);
    expect(text).toContain('"moderator":{"groups":["shell-watchers"],"role":"observer"}');
    expect(scopeOf(parseAirlockScope(text)).moderator).toEqual({
      groups: ['shell-watchers'],
      role: 'observer',
    });
  });

  it('refuses any other role with CERT_SCOPE_INVALID', () => {
    for (const role of ['moderator', 'Observer', '', 1, null])
      expect(() => validateAirlockScope({ ...BASE, moderator: { groups: ['a'], role } })).toThrow(
        expect.objectContaining({ code: 'CERT_SCOPE_INVALID' }),
      );
  });
});

describe('authorizeIntent: an observer certificate never acts (both tiers)', () => {
  it('denies every intent with MODERATOR_ONLY', () => {
    const policy = testPolicy();
    const scope = scopeOf({ ...BASE, moderator: { groups: ['shell-watchers'], role: 'observer' } });
    const intent = { action: 'exec' as const, namespace: 'payments', pod: 'api-0', argv: ['ps', 'aux'] };
    expect(authorizeIntent(policy, scope, intent)).toMatchObject({
      allow: false,
      code: 'MODERATOR_ONLY',
      reason: 'an observer certificate may only join and watch sessions',
    });
  });
});
