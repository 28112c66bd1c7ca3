/**
 * Access requests: `decideRequest` (auto-approve, ask for approval, or deny)
 * and `canApprove` (may this person approve that pending request). Pure: the
 * current time is an argument. The auto-approve rules live in auto-approve.ts.
 */
import { authorizeArgv } from './authorize.js';
import { approvalDecision } from './auto-approve.js';
import { globSubsumes } from './glob.js';
import { placeOutsideProfile, show } from './profile-scope.js';
import type {
  ApproveResult,
  PendingRequest,
  Policy,
  Profile,
  RequestDecision,
  RequestDenyCode,
  RequestedScope,
  Requester,
} from './types.js';
import { sameUser, userNameKey } from './user-names.js';

/** Reasons longer than this are refused (and never fed to a policy regex). */
export const MAX_REASON_LENGTH = 1024;

const POD_PATTERN = /^[a-z0-9.*?-]{1,253}$/;
/** The scope extension's container pattern rule (ssh-cert/airlock-scope.ts). */
const CONTAINER_PATTERN = /^[a-z0-9*?-]{1,63}$/;

function denied(code: RequestDenyCode, reason: string, rule?: string): RequestDecision {
  return rule === undefined
    ? { decision: 'denied', code, reasons: [reason] }
    : { decision: 'denied', code, reasons: [reason], rule };
}

function getProfile(policy: Policy, name: unknown): Profile | undefined {
  return typeof name === 'string' && Object.hasOwn(policy.profiles, name) ? policy.profiles[name] : undefined;
}

/** The TTL bound that applies to a profile. */
export function effectiveMaxTtl(policy: Policy, profile: Profile): number {
  return Math.min(profile.maxTtlSeconds ?? policy.limits.maxTtlSeconds, policy.limits.maxTtlSeconds);
}

/** Requested container patterns (optional) must each fall inside the profile's containers. */
function checkRequestedContainers(
  profile: Profile,
  p: string,
  patterns: unknown,
): RequestDecision | undefined {
  if (patterns === undefined) return undefined;
  if (!Array.isArray(patterns) || patterns.length === 0)
    return denied('SCOPE_CONTAINER', 'container patterns, when given, need at least one entry');
  for (const pattern of patterns) {
    if (typeof pattern !== 'string' || !CONTAINER_PATTERN.test(pattern))
      return denied('SCOPE_CONTAINER', `container pattern ${show(pattern)} is malformed`);
    const limits = profile.scope.containers;
    if (limits !== undefined && !limits.some((allowed) => globSubsumes(allowed, pattern))) {
      return denied(
        'SCOPE_CONTAINER',
        `container pattern ${show(pattern)} is not inside the profile's containers`,
        `${p}.scope.containers`,
      );
    }
  }
  if (new Set(patterns).size !== patterns.length)
    return denied('SCOPE_CONTAINER', 'container patterns have duplicates');
  return undefined;
}

/** The groups whose members may ask for a role: moderators, or (observer) observers and moderators. */
export function roleGroups(rule: Profile['moderation'], role: 'moderator' | 'observer'): readonly string[] {
  if (!rule) return [];
  return role === 'observer' ? [...(rule.observerGroups ?? []), ...rule.requiredGroups] : rule.requiredGroups;
}

/**
 * A request for the moderator or observer role of a profile: the profile
 * must be moderated, the requester a person in one of the role's groups
 * (`roleGroups`), and no runbook named (the role never acts).
 */
function moderatorRequestProblem(
  profile: Profile,
  p: string,
  requester: Requester,
  requested: RequestedScope,
): RequestDecision | undefined {
  if (!profile.moderation)
    return denied(
      'REQUEST_DENIED',
      'the profile is not moderated: it has no moderator role',
      `${p}.moderation`,
    );
  if (requester.kind !== 'human') return denied('REQUEST_DENIED', 'only people may moderate sessions');
  if (requested.runbook !== undefined)
    return denied('REQUEST_DENIED', 'a moderator request cannot name a runbook');
  const role = requested.role === 'observer' ? 'observer' : 'moderator';
  if (!roleGroups(profile.moderation, role).some((g) => requester.groups.includes(g))) {
    return denied(
      'REQUEST_DENIED',
      `requester is not in any ${role} group of this profile`,
      `${p}.moderation.${role === 'observer' ? 'observerGroups' : 'requiredGroups'}`,
    );
  }
  return undefined;
}

/** The requester must be named and allowed to ask for this profile (or for its moderator role). */
function requesterProblem(
  profile: Profile,
  p: string,
  requester: Requester,
  requested: RequestedScope,
  moderating: boolean,
): RequestDecision | undefined {
  if (typeof requester.user !== 'string' || requester.user === '' || !Array.isArray(requester.groups)) {
    return denied('REQUEST_DENIED', 'requester has no user name');
  }
  if (moderating) return moderatorRequestProblem(profile, p, requester, requested);
  if (!profile.requesterGroups.some((g) => requester.groups.includes(g))) {
    return denied(
      'REQUEST_DENIED',
      'requester is not in any group allowed to request this profile',
      `${p}.requesterGroups`,
    );
  }
  return undefined;
}

/** The requested cluster and namespace must be well-formed names the profile's globs match. */
function placeProblem(profile: Profile, p: string, requested: RequestedScope): RequestDecision | undefined {
  const outside =
    placeOutsideProfile(profile, p, 'cluster', requested.cluster) ??
    placeOutsideProfile(profile, p, 'namespace', requested.namespace);
  return outside && denied(outside.code, outside.reason, outside.rule);
}

/** At least one pod pattern, each well-formed and inside the profile's pods. */
function checkRequestedPods(profile: Profile, p: string, patterns: unknown): RequestDecision | undefined {
  if (!Array.isArray(patterns) || patterns.length === 0) {
    return denied('SCOPE_POD', 'at least one pod pattern is required');
  }
  for (const pattern of patterns) {
    if (typeof pattern !== 'string' || !POD_PATTERN.test(pattern)) {
      return denied('SCOPE_POD', `pod pattern ${show(pattern)} is malformed`);
    }
    if (!profile.scope.pods.some((allowed) => globSubsumes(allowed, pattern))) {
      return denied(
        'SCOPE_POD',
        `pod pattern ${show(pattern)} is not inside the profile's pods`,
        `${p}.scope.pods`,
      );
    }
  }
  return undefined;
}

/** The TTL must be a positive whole number within the profile's bound; the reason a bounded string. */
function ttlAndReasonProblem(
  policy: Policy,
  profile: Profile,
  p: string,
  requested: RequestedScope,
): RequestDecision | undefined {
  if (!Number.isSafeInteger(requested.ttlSeconds) || requested.ttlSeconds <= 0) {
    return denied('REQUEST_DENIED', 'TTL must be a positive whole number of seconds');
  }
  const maxTtl = effectiveMaxTtl(policy, profile);
  if (requested.ttlSeconds > maxTtl) {
    return denied(
      'TTL_TOO_LONG',
      `TTL ${requested.ttlSeconds}s exceeds ${maxTtl}s`,
      profile.maxTtlSeconds === undefined ? 'limits.maxTtlSeconds' : `${p}.maxTtlSeconds`,
    );
  }
  if (typeof requested.reason !== 'string' || requested.reason.length > MAX_REASON_LENGTH) {
    return denied('REQUEST_DENIED', `reason must be a string of at most ${MAX_REASON_LENGTH} characters`);
  }
  return undefined;
}

/**
 * A named runbook must exist, be offered by the profile, have every step
 * allowed by it, and (for a machine identity) list the requester. Without a
 * runbook only people may ask.
 */
function runbookProblem(
  policy: Policy,
  profile: Profile,
  p: string,
  requester: Requester,
  requested: RequestedScope,
): RequestDecision | undefined {
  if (requested.runbook === undefined) {
    return requester.kind !== 'human'
      ? denied('REQUEST_DENIED', 'machine identities may only request runbooks')
      : undefined;
  }
  const name = requested.runbook;
  const runbook =
    typeof name === 'string' && policy.runbooks && Object.hasOwn(policy.runbooks, name)
      ? policy.runbooks[name]
      : undefined;
  if (!runbook || !profile.runbooks?.includes(name)) {
    return denied(
      'REQUEST_DENIED',
      `runbook ${show(name)} is not available with this profile`,
      `${p}.runbooks`,
    );
  }
  if (!profile.actions.exec)
    return denied('REQUEST_DENIED', 'the profile does not allow exec', `${p}.actions`);
  for (const [i, step] of runbook.steps.entries()) {
    const r = authorizeArgv(policy, requested.profile, step);
    if (!r.allow) {
      return denied(
        'REQUEST_DENIED',
        `runbook step ${i} is not allowed by the profile: ${r.reason}`,
        `runbooks.${name}.steps[${i}]`,
      );
    }
  }
  if (requester.kind === 'machine' && !runbook.machineUsers?.includes(requester.user)) {
    return denied(
      'REQUEST_DENIED',
      `machine identity ${show(requester.user)} may not run runbook ${show(name)}`,
      `runbooks.${name}.machineUsers`,
    );
  }
  return undefined;
}

/**
 * Decides an access request: denied when it falls outside the profile,
 * auto-approved when every condition of some auto-approve rule holds,
 * otherwise needs-approval (or denied when the profile has no manual rule).
 */
export function decideRequest(
  policy: Policy,
  requester: Requester,
  requested: RequestedScope,
  now: Date,
): RequestDecision {
  const profile = getProfile(policy, requested.profile);
  if (!profile) return denied('PROFILE_UNKNOWN', `no profile named ${show(requested.profile)}`);
  const p = `profiles.${requested.profile}`;

  const moderating = requested.role === 'moderator' || requested.role === 'observer';
  const refused =
    requesterProblem(profile, p, requester, requested, moderating) ??
    placeProblem(profile, p, requested) ??
    checkRequestedPods(profile, p, requested.podPatterns) ??
    checkRequestedContainers(profile, p, requested.containerPatterns) ??
    ttlAndReasonProblem(policy, profile, p, requested) ??
    runbookProblem(policy, profile, p, requester, requested);
  if (refused) return refused;

  // The policy names moderators and observers by group; the roles let them watch (and stop), never act.
  if (moderating) {
    const observing = requested.role === 'observer';
    return {
      decision: 'auto-approved',
      reasons: [`the requester is in ${observing ? 'an observer' : 'a moderator'} group of the profile`],
      rule: `${p}.moderation.${observing ? 'observerGroups' : 'requiredGroups'}`,
    };
  }
  return approvalDecision(profile, p, requester, requested, now);
}

/**
 * May `approver` approve `request` now? `complete` says whether this approval
 * brings the request to the required count. Requesters never approve their
 * own requests, approvals by the requester in `approvedBy` do not count, and
 * machine identities never approve.
 */
export function canApprove(
  policy: Policy,
  request: PendingRequest,
  approver: Requester,
  now: Date,
): ApproveResult {
  const profile = getProfile(policy, request.scope.profile);
  if (!profile)
    return {
      allowed: false,
      code: 'PROFILE_UNKNOWN',
      reason: `no profile named ${show(request.scope.profile)}`,
    };
  const manual = profile.approval.manual;
  const no = (reason: string): ApproveResult => ({ allowed: false, code: 'REQUEST_DENIED', reason });
  if (!manual) return no('the profile has no manual approval');
  const created = request.createdAt instanceof Date ? request.createdAt.getTime() : Number.NaN;
  // NaN compares false, so a missing or invalid creation time counts as expired.
  if (!(now.getTime() < created + manual.pendingExpirySeconds * 1000)) {
    return no('the request has expired');
  }
  if (approver.kind !== 'human') return no('machine identities cannot approve');
  if (typeof approver.user !== 'string' || approver.user === '' || !Array.isArray(approver.groups)) {
    return no('approver has no user name or groups');
  }
  if (typeof request.requester?.user !== 'string' || !Array.isArray(request.approvedBy)) {
    return no('malformed request');
  }
  const approvedBy = request.approvedBy.filter((u): u is string => typeof u === 'string');
  if (sameUser(approver.user, request.requester.user))
    return no('requesters cannot approve their own request');
  if (approvedBy.some((u) => sameUser(u, approver.user))) return no('approver has already approved');
  if (!manual.approverGroups.some((g) => approver.groups.includes(g))) {
    return no(`approver is in none of ${manual.approverGroups.join(', ')}`);
  }
  const others = new Set(
    request.approvedBy.filter((u) => !sameUser(u, request.requester.user)).map(userNameKey),
  );
  return {
    allowed: true,
    complete: others.size + 1 >= manual.count,
    rule: `profiles.${request.scope.profile}.approval.manual`,
  };
}
