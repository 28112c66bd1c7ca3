import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localTime } from './auto-approve.js';
import { canApprove, decideRequest } from './decide.js';
import { testPolicy } from './testing.js';
import type { PendingRequest, RequestedScope, Requester } from './types.js';

const policy = testPolicy();
const now = new Date('2026-11-25T09:30:00Z'); // Wednesday, 10:30 in Berlin
const oncall: Requester = { user: 'alice', groups: ['oncall'], kind: 'human' };
const dev: Requester = { user: 'dave', groups: ['devs'], kind: 'human' };
const bot: Requester = { user: 'system:serviceaccount:ops:bot', groups: ['bots'], kind: 'machine' };
const req: RequestedScope = {
  profile: 'debug',
  cluster: 'prod-eu',
  namespace: 'payments',
  podPatterns: ['api-*'],
  ttlSeconds: 900,
  reason: 'INC-4711 checkout errors',
};

describe('decideRequest', () => {
  it('auto-approves when every condition of a rule holds', () => {
    expect(decideRequest(policy, oncall, req, now)).toEqual({
      decision: 'auto-approved',
      reasons: ['all conditions of the auto-approve rule hold'],
      rule: 'profiles.debug.approval.autoApprove[0](incident)',
    });
  });

  it('asks for approval when a condition fails, naming each failed condition', () => {
    const d = decideRequest(policy, oncall, { ...req, ttlSeconds: 3600, reason: 'looking around' }, now);
    expect(d).toMatchObject({
      decision: 'needs-approval',
      approvers: { groups: ['leads'], count: 2, pendingExpirySeconds: 3600 },
      rule: 'profiles.debug.approval.manual',
    });
    expect(d.reasons).toEqual([
      'profiles.debug.approval.autoApprove[0](incident): TTL 3600s exceeds 1800s',
      'profiles.debug.approval.autoApprove[0](incident): reason does not match /^INC-[0-9]+/',
      'profiles.debug.approval.autoApprove[1](runbook): request is not for a runbook',
    ]);
  });

  it('asks for approval when the requester is outside the rule groups', () => {
    expect(decideRequest(policy, dev, req, now).decision).toBe('needs-approval');
  });

  it('auto-approves a runbook-only request, including for its machine identity', () => {
    const rb = { ...req, runbook: 'snapshot', reason: '' };
    expect(decideRequest(policy, oncall, rb, now)).toMatchObject({
      decision: 'auto-approved',
      rule: 'profiles.debug.approval.autoApprove[1](runbook)',
    });
    expect(decideRequest(policy, bot, rb, now)).toMatchObject({ decision: 'auto-approved' });
  });

  it.each<[string, Requester, Partial<RequestedScope>, string, string | undefined]>([
    ['an unknown profile', oncall, { profile: 'nope' }, 'PROFILE_UNKNOWN', undefined],
    ['a profile name from the prototype', oncall, { profile: 'constructor' }, 'PROFILE_UNKNOWN', undefined],
    [
      'a requester outside requesterGroups',
      { ...oncall, groups: ['sales'] },
      {},
      'REQUEST_DENIED',
      'profiles.debug.requesterGroups',
    ],
    [
      'a cluster outside the profile',
      oncall,
      { cluster: 'staging' },
      'SCOPE_CLUSTER',
      'profiles.debug.scope.clusters',
    ],
    ['a malformed cluster', oncall, { cluster: 'prod-:x' }, 'SCOPE_CLUSTER', 'profiles.debug.scope.clusters'],
    [
      'a namespace outside the profile',
      oncall,
      { namespace: 'kube-system' },
      'SCOPE_NAMESPACE',
      'profiles.debug.scope.namespaces',
    ],
    ['no pod patterns', oncall, { podPatterns: [] }, 'SCOPE_POD', undefined],
    [
      'a pod pattern wider than the profile',
      oncall,
      { podPatterns: ['*'] },
      'SCOPE_POD',
      'profiles.debug.scope.pods',
    ],
    [
      'a ? pattern against a * request',
      oncall,
      { podPatterns: ['worker-*'] },
      'SCOPE_POD',
      'profiles.debug.scope.pods',
    ],
    [
      'a TTL over the profile bound',
      oncall,
      { ttlSeconds: 3601 },
      'TTL_TOO_LONG',
      'profiles.debug.maxTtlSeconds',
    ],
    ['a zero TTL', oncall, { ttlSeconds: 0 }, 'REQUEST_DENIED', undefined],
    ['a fractional TTL', oncall, { ttlSeconds: 1.5 }, 'REQUEST_DENIED', undefined],
    ['an overlong reason', oncall, { reason: 'x'.repeat(2000) }, 'REQUEST_DENIED', undefined],
    ['an unknown runbook', oncall, { runbook: 'nope' }, 'REQUEST_DENIED', 'profiles.debug.runbooks'],
    ['a machine without a runbook', bot, {}, 'REQUEST_DENIED', undefined],
    [
      'a machine not listed for the runbook',
      { ...bot, user: 'system:serviceaccount:x:y' },
      { runbook: 'snapshot' },
      'REQUEST_DENIED',
      'runbooks.snapshot.machineUsers',
    ],
  ])('denies %s', (_name, requester, change, code, rule) => {
    const d = decideRequest(policy, requester, { ...req, ...change }, now);
    expect(d.decision).toBe('denied');
    expect(d.code).toBe(code);
    expect(d.rule).toBe(rule);
  });

  it('applies the policy-wide ceiling to profiles without a bound', () => {
    const d = decideRequest(
      policy,
      { user: 'sam', groups: ['sre'], kind: 'human' },
      { ...req, profile: 'shell', ttlSeconds: 28801 },
      now,
    );
    expect(d).toMatchObject({ decision: 'denied', code: 'TTL_TOO_LONG', rule: 'limits.maxTtlSeconds' });
  });

  it('denies a runbook whose steps the profile no longer allows', () => {
    const p = testPolicy((j) => {
      (j.runbooks as Record<string, { steps: string[][] }>).snapshot!.steps.push(['top']);
    });
    expect(decideRequest(p, oncall, { ...req, runbook: 'snapshot' }, now)).toMatchObject({
      decision: 'denied',
      code: 'REQUEST_DENIED',
      rule: 'runbooks.snapshot.steps[2]',
    });
  });

  describe('business hours (Europe/Berlin, Mon-Fri 09:00-17:00)', () => {
    const read: RequestedScope = {
      ...req,
      profile: 'readonly',
      cluster: 'dev',
      podPatterns: ['*'],
      ttlSeconds: 600,
    };
    it.each([
      ['2026-11-25T09:30:00Z', 'auto-approved'], // Wed 10:30 CET
      ['2026-11-25T07:59:00Z', 'denied'], // Wed 08:59 CET
      ['2026-11-25T16:00:00Z', 'denied'], // Wed 17:00 CET, end is exclusive
      ['2026-11-28T10:00:00Z', 'denied'], // Saturday
      ['2026-07-01T07:30:00Z', 'auto-approved'], // Wed 09:30 CEST
      ['2026-07-01T15:30:00Z', 'denied'], // Wed 17:30 CEST
    ])('%s → %s', (at, decision) => {
      expect(decideRequest(policy, dev, read, new Date(at)).decision).toBe(decision);
    });
    it('reads local time with Intl.DateTimeFormat', () => {
      expect(localTime(new Date('2026-07-01T22:30:00Z'), 'Europe/Berlin')).toEqual({
        day: 'thu',
        time: '00:30',
      });
    });
  });
});

describe('canApprove', () => {
  const pending: PendingRequest = {
    requester: oncall,
    scope: req,
    createdAt: new Date('2026-11-25T09:00:00Z'),
    approvedBy: [],
  };
  const lead: Requester = { user: 'lee', groups: ['leads'], kind: 'human' };

  it('lets an approver from the approver groups approve, counting towards the required number', () => {
    expect(canApprove(policy, pending, lead, now)).toEqual({
      allowed: true,
      complete: false,
      rule: 'profiles.debug.approval.manual',
    });
    expect(canApprove(policy, { ...pending, approvedBy: ['kim'] }, lead, now)).toMatchObject({
      complete: true,
    });
  });

  it.each<[string, PendingRequest, Requester, Date, string]>([
    ['the requester themselves', pending, { ...oncall, groups: ['leads'] }, now, 'own request'],
    [
      'the requester in another case',
      pending,
      { user: 'ALICE', groups: ['leads'], kind: 'human' },
      now,
      'own request',
    ],
    [
      'someone outside the approver groups',
      pending,
      { user: 'bob', groups: ['oncall'], kind: 'human' },
      now,
      'none of leads',
    ],
    ['a machine identity', pending, { ...lead, kind: 'machine' }, now, 'machine'],
    ['an approver twice', { ...pending, approvedBy: ['lee'] }, lead, now, 'already approved'],
    ['after expiry', pending, lead, new Date('2026-11-25T10:00:00Z'), 'expired'],
  ])('refuses %s', (_name, request, approver, at, reason) => {
    const r = canApprove(policy, request, approver, at);
    expect(r.allowed).toBe(false);
    if (!r.allowed) {
      expect(r.code).toBe('REQUEST_DENIED');
      expect(r.reason).toContain(reason);
    }
  });

  it('does not count an approval recorded for the requester', () => {
    expect(canApprove(policy, { ...pending, approvedBy: ['alice'] }, lead, now)).toMatchObject({
      complete: false,
    });
  });

  it('refuses when the profile has no manual approval or is unknown', () => {
    expect(
      canApprove(policy, { ...pending, scope: { ...req, profile: 'readonly' } }, lead, now),
    ).toMatchObject({
      allowed: false,
      code: 'REQUEST_DENIED',
    });
    expect(canApprove(policy, { ...pending, scope: { ...req, profile: 'gone' } }, lead, now)).toMatchObject({
      allowed: false,
      code: 'PROFILE_UNKNOWN',
    });
  });
});

describe('robustness', () => {
  it('requests of any shape never crash decideRequest or canApprove', () => {
    const anyString = fc.oneof(
      fc.string(),
      fc.constantFrom('debug', 'prod-eu', 'payments', 'api-*', 'oncall'),
      fc.anything(),
    );
    fc.assert(
      fc.property(
        fc.record({
          user: anyString,
          groups: fc.oneof(fc.array(anyString), fc.anything()),
          kind: fc.oneof(fc.constantFrom('human', 'machine'), fc.anything()),
        }),
        fc.record({
          profile: anyString,
          cluster: anyString,
          namespace: anyString,
          podPatterns: fc.oneof(fc.array(anyString), fc.anything()),
          ttlSeconds: fc.oneof(fc.integer(), fc.anything()),
          reason: anyString,
          runbook: fc.oneof(fc.constant(undefined), fc.constant('snapshot'), anyString),
        }),
        fc.record({
          user: anyString,
          groups: fc.oneof(fc.array(anyString), fc.anything()),
          kind: fc.oneof(fc.constant('human'), fc.anything()),
        }),
        fc.oneof(fc.array(anyString), fc.anything()),
        (requester, requested, approver, approvedBy) => {
          const d = decideRequest(policy, requester as Requester, requested as RequestedScope, now);
          expect(['auto-approved', 'needs-approval', 'denied']).toContain(d.decision);
          const a = canApprove(
            policy,
            {
              requester: requester as Requester,
              scope: requested as RequestedScope,
              createdAt: now,
              approvedBy,
            } as PendingRequest,
            approver as Requester,
            now,
          );
          expect(typeof a.allowed).toBe('boolean');
        },
      ),
      { numRuns: 1000 },
    );
  });
});
