/**
 * Auto-approve rules of a profile (requester groups and kinds, TTL, reason
 * pattern, runbook-only, business hours) and the approval outcome of a request
 * already inside the profile. Pure: the current time is an argument, and
 * business hours are computed with Intl.DateTimeFormat in the rule's IANA
 * time zone.
 */
import { show } from './profile-scope.js';
import type {
  AutoApproveRule,
  BusinessHours,
  Profile,
  RequestDecision,
  RequestedScope,
  Requester,
  Weekday,
} from './types.js';

const formatters = new Map<string, Intl.DateTimeFormat>();
const reasonPatterns = new Map<string, RegExp>();

function reasonRegExp(pattern: string): RegExp {
  let re = reasonPatterns.get(pattern);
  if (re === undefined) {
    re = new RegExp(pattern, 'u');
    reasonPatterns.set(pattern, re);
  }
  return re;
}

/** Weekday and `HH:MM` of `now` in an IANA time zone. */
export function localTime(now: Date, timeZone: string): { day: Weekday; time: string } {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const part of f.formatToParts(now)) parts[part.type] = part.value;
  const day = (parts.weekday ?? '').slice(0, 3).toLowerCase() as Weekday;
  return { day, time: `${parts.hour ?? '00'}:${parts.minute ?? '00'}` };
}

export function withinBusinessHours(now: Date, hours: BusinessHours): boolean {
  const { day, time } = localTime(now, hours.timeZone);
  return hours.days.includes(day) && time >= hours.start && time < hours.end;
}

function failedConditions(
  rule: AutoApproveRule,
  requester: Requester,
  requested: RequestedScope,
  now: Date,
): string[] {
  const failed: string[] = [];
  if (rule.requesterGroups && !rule.requesterGroups.some((g) => requester.groups.includes(g))) {
    failed.push(`requester is in none of ${rule.requesterGroups.join(', ')}`);
  }
  if (rule.requesterKinds && !rule.requesterKinds.includes(requester.kind)) {
    failed.push(`requester kind ${show(requester.kind)} is not ${rule.requesterKinds.join(' or ')}`);
  }
  if (rule.maxTtlSeconds !== undefined && requested.ttlSeconds > rule.maxTtlSeconds) {
    failed.push(`TTL ${requested.ttlSeconds}s exceeds ${rule.maxTtlSeconds}s`);
  }
  if (rule.reasonPattern !== undefined && !reasonRegExp(rule.reasonPattern).test(requested.reason)) {
    failed.push(`reason does not match /${rule.reasonPattern}/`);
  }
  if (rule.runbookOnly && requested.runbook === undefined) failed.push('request is not for a runbook');
  if (rule.businessHours && !withinBusinessHours(now, rule.businessHours)) {
    failed.push(`outside business hours (${rule.businessHours.timeZone})`);
  }
  return failed;
}

/**
 * For a request already inside the profile: auto-approved when every
 * condition of some auto-approve rule holds, otherwise needs-approval (or
 * denied when the profile has no manual rule).
 */
export function approvalDecision(
  profile: Profile,
  p: string,
  requester: Requester,
  requested: RequestedScope,
  now: Date,
): RequestDecision {
  const reasons: string[] = [];
  const auto = profile.approval.autoApprove ?? [];
  for (const [i, rule] of auto.entries()) {
    const failed = failedConditions(rule, requester, requested, now);
    const ruleName = `${p}.approval.autoApprove[${i}]${rule.id === undefined ? '' : `(${rule.id})`}`;
    if (failed.length === 0) {
      return {
        decision: 'auto-approved',
        reasons: ['all conditions of the auto-approve rule hold'],
        rule: ruleName,
      };
    }
    for (const f of failed) reasons.push(`${ruleName}: ${f}`);
  }
  const manual = profile.approval.manual;
  if (!manual) {
    return {
      decision: 'denied',
      code: 'REQUEST_DENIED',
      reasons: [...reasons, 'the profile has no manual approval'],
      rule: `${p}.approval`,
    };
  }
  return {
    decision: 'needs-approval',
    approvers: {
      groups: manual.approverGroups,
      count: manual.count,
      pendingExpirySeconds: manual.pendingExpirySeconds,
    },
    reasons,
    rule: `${p}.approval.manual`,
  };
}
