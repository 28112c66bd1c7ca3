/**
 * Reading and deciding requests: get, list, approve, deny (or withdraw) and
 * the sweep that expires pending requests. Every refusal to decide is audited.
 */
import { AirlockError } from '../../core/errors.js';
import { canApprove } from '../../core/policy/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import { type BrokerContext, type RequestDecision, refuseAudited } from './context.js';
import { isDue, mayView, notPending, pendingView, sameUser, vote } from './request-rules.js';

export async function getRequest(ctx: BrokerContext, actor: Identity, id: string): Promise<AccessRequest> {
  const request = await ctx.load(id, ctx.clock());
  if (!mayView(ctx.policy, ctx.deps.adminGroups, actor, request)) {
    throw new AirlockError('ACCESS_FORBIDDEN', `you may not see request ${id}`);
  }
  return request;
}

/** `mine`: the actor's own requests; `pending`: pending requests the actor may approve now. */
export async function listRequests(
  ctx: BrokerContext,
  actor: Identity,
  filter: 'mine' | 'pending',
): Promise<AccessRequest[]> {
  const now = ctx.clock();
  const out: AccessRequest[] = [];
  const found = await ctx.deps.store.list(filter === 'mine' ? { requester: actor } : { status: 'pending' });
  for (const stored of found) {
    const request = isDue(stored, now) ? await ctx.act(stored.id, now, async () => undefined) : stored;
    if (filter === 'mine' && sameUser(actor, request.requester)) out.push(request);
    if (
      filter === 'pending' &&
      request.status === 'pending' &&
      canApprove(ctx.policy, pendingView(request), actor, now).allowed
    ) {
      out.push(request);
    }
  }
  return out;
}

export const approveRequest: RequestDecision = async (ctx, actor, id, comment) => {
  const now = ctx.clock();
  const updated = await ctx.act(id, now, async (request) => {
    if (request.status !== 'pending') throw notPending(request);
    const verdict = canApprove(ctx.policy, pendingView(request), actor, now);
    if (!verdict.allowed) {
      return refuseAudited(ctx, {
        event: 'request.approved',
        request,
        actor,
        code: 'APPROVAL_NOT_ALLOWED',
        reason: verdict.reason,
        message: `approval refused: ${verdict.reason}`,
      });
    }
    const approvals = [...request.approvals, vote(actor, now, comment)];
    const updated: AccessRequest = verdict.complete
      ? {
          ...request,
          approvals,
          status: 'approved',
          approvedAt: now.toISOString(),
          accessExpiresAt: new Date(now.getTime() + request.scope.ttlSeconds * 1000).toISOString(),
        }
      : { ...request, approvals };
    await ctx.record({
      event: 'request.approved',
      ...eventFor(request, actor),
      decision: 'allow',
      reason: comment ?? 'approved',
      details: { complete: verdict.complete, approvals: approvals.length, rule: verdict.rule },
    });
    return updated;
  });
  if (updated.status === 'approved') ctx.notify('approved', updated, actor);
  if (updated.status === 'approved' && ctx.deps.tiers) return ctx.deps.tiers.approved(updated);
  return updated;
};

export const denyRequest: RequestDecision = async (ctx, actor, id, comment) => {
  const now = ctx.clock();
  const updated = await ctx.act(id, now, async (request) => {
    if (request.status !== 'pending') throw notPending(request);
    // The requester may withdraw; otherwise only someone who could approve may deny.
    const withdraw = sameUser(actor, request.requester);
    if (!withdraw) {
      const verdict = canApprove(ctx.policy, pendingView(request), actor, now);
      if (!verdict.allowed) {
        return refuseAudited(ctx, {
          event: 'request.denied',
          request,
          actor,
          code: 'APPROVAL_NOT_ALLOWED',
          reason: `denial refused: ${verdict.reason}`,
        });
      }
    }
    const updated: AccessRequest = { ...request, status: 'denied', denial: vote(actor, now, comment) };
    await ctx.record({
      event: 'request.denied',
      ...eventFor(request, actor),
      decision: 'allow',
      reason: comment ?? (withdraw ? 'withdrawn by the requester' : 'denied'),
      details: { by: withdraw ? 'requester' : 'approver' },
    });
    return updated;
  });
  ctx.notify('denied', updated, actor);
  if (updated.launch) await ctx.deps.tiers?.ended(updated, 'denied');
  return updated;
};

/** Moves pending requests past their expiry to `expired`; returns how many. */
export async function expirePending(ctx: BrokerContext): Promise<number> {
  const now = ctx.clock();
  let count = 0;
  for (const request of await ctx.deps.store.list({ status: 'pending' })) {
    if (!isDue(request, now)) continue;
    // Re-read under the lock: another broker may have expired or decided it meanwhile.
    const changed = await ctx.act(request.id, now, async () => undefined).catch(() => undefined);
    if (changed?.status === 'expired') count++;
  }
  return count;
}
