/**
 * Pure rules about one request and one actor: who the requester is, who may
 * see it, whether it is past its pending expiry, and the refusals they lead to.
 */
import { AirlockError } from '../../core/errors.js';
import type { Policy } from '../../core/policy/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest, RequestVote } from '../request-store.js';
import { usage } from './validate.js';

export const REQUEST_ID = /^req-[0-9a-f]{20}$/;

/** User names compare after NFKC and lower-casing, as the policy compares them. */
export function sameUser(a: Pick<Identity, 'user' | 'kind'>, b: Pick<Identity, 'user' | 'kind'>): boolean {
  return (
    a.kind === b.kind && a.user.normalize('NFKC').toLowerCase() === b.user.normalize('NFKC').toLowerCase()
  );
}

export function isDue(request: AccessRequest, now: Date): boolean {
  return (
    request.status === 'pending' &&
    request.pendingExpiresAt !== undefined &&
    now.getTime() >= Date.parse(request.pendingExpiresAt)
  );
}

export const notFound = (id: string) => new AirlockError('REQUEST_NOT_FOUND', `no access request ${id}`);

export function isAdmin(adminGroups: readonly string[], actor: Identity): boolean {
  return actor.kind === 'human' && adminGroups.some((g) => actor.groups.includes(g));
}

export function isApproverFor(policy: Policy, actor: Identity, request: AccessRequest): boolean {
  const profile = Object.hasOwn(policy.profiles, request.scope.profile)
    ? policy.profiles[request.scope.profile]
    : undefined;
  const groups = profile?.approval.manual?.approverGroups ?? [];
  return (
    actor.kind === 'human' &&
    (groups.some((g) => actor.groups.includes(g)) ||
      request.approvals.some((a) => sameUser({ user: a.user, kind: 'human' }, actor)))
  );
}

/** The requester, an admin or an approver of the request (who may see and revoke it). */
export function mayView(
  policy: Policy,
  adminGroups: readonly string[],
  actor: Identity,
  request: AccessRequest,
): boolean {
  return (
    sameUser(actor, request.requester) || isAdmin(adminGroups, actor) || isApproverFor(policy, actor, request)
  );
}

export function vote(actor: Identity, now: Date, comment?: string): RequestVote {
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > 1024)) {
    usage('comment must be a string of at most 1024 characters');
  }
  return { user: actor.user, at: now.toISOString(), ...(comment ? { comment } : {}) };
}

/** What `canApprove` reads of a pending request. */
export function pendingView(request: AccessRequest) {
  return {
    requester: request.requester,
    scope: request.scope,
    createdAt: new Date(request.createdAt),
    approvedBy: request.approvals.map((a) => a.user),
  };
}

export function notPending(request: AccessRequest): AirlockError {
  if (request.status === 'expired')
    return new AirlockError('REQUEST_EXPIRED', `request ${request.id} has expired`);
  return new AirlockError('REQUEST_STATE', `request ${request.id} is ${request.status}, not pending`);
}
