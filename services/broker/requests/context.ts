/**
 * The state the broker's operations share, passed to each as one small
 * context: the dependencies, the audit and notify hooks, and `act`/`load`,
 * the store transaction that expires a pending request past its expiry first.
 */
import type { AuditEventInput } from '../../core/audit/index.js';
import { AirlockError, type ErrorCode } from '../../core/errors.js';
import type { Policy } from '../../core/policy/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import { isDue, notFound, REQUEST_ID } from './request-rules.js';
import type { AccessBrokerDeps } from './types.js';

/** What every operation of the broker works with. */
export interface BrokerContext {
  readonly deps: AccessBrokerDeps;
  readonly policy: Policy;
  readonly clock: () => Date;
  /** Appends one record to the broker's audit trail. */
  readonly record: (event: AuditEventInput) => Promise<void>;
  /** After the change is stored: fire and forget (the notifier never throws or waits). */
  readonly notify: (
    kind: 'pending' | 'approved' | 'denied' | 'revoked',
    request: AccessRequest,
    actor: Identity,
  ) => void;
  /**
   * One state change of request `id`, as one store transaction: `work` gets
   * the record as stored (read under the store's lock, so two brokers never
   * both act on the same state), audits, and returns the new record or
   * undefined (no change). A pending request past its expiry becomes
   * `expired` (audited) first; that is stored even when `work` then refuses.
   */
  readonly act: (
    id: string,
    now: Date,
    work: (request: AccessRequest) => Promise<AccessRequest | undefined>,
  ) => Promise<AccessRequest>;
  /** Reads a request (no lock); one past its expiry is expired first. */
  readonly load: (id: string, now: Date) => Promise<AccessRequest>;
}

/** A decision of `actor` on request `id` (approve, deny, revoke), with the actor's comment. */
export type RequestDecision = (
  ctx: BrokerContext,
  actor: Identity,
  id: string,
  comment?: string,
) => Promise<AccessRequest>;

/**
 * Refuses `actor`'s `event` on `request`: the `deny` record with `code` and
 * `reason` first, then the error with `message` (default: the reason).
 */
export async function refuseAudited(
  ctx: Pick<BrokerContext, 'record'>,
  refusal: {
    event: AuditEventInput['event'];
    request: AccessRequest;
    actor: Identity;
    code: ErrorCode;
    reason: string;
    message?: string;
  },
): Promise<never> {
  const { event, request, actor, code, reason } = refusal;
  await ctx.record({ event, ...eventFor(request, actor), decision: 'deny', code, reason });
  throw new AirlockError(code, refusal.message ?? reason);
}

export function createBrokerContext(deps: AccessBrokerDeps): BrokerContext {
  const { store, audit } = deps;
  const record = async (event: AuditEventInput): Promise<void> => {
    await audit.append(event);
  };

  async function act(
    id: string,
    now: Date,
    work: (request: AccessRequest) => Promise<AccessRequest | undefined>,
  ): Promise<AccessRequest> {
    if (!REQUEST_ID.test(id)) throw notFound(id);
    let refusal: { error: unknown } | undefined;
    const stored = await store.update(id, async (current) => {
      if (!current) throw notFound(id);
      if (!isDue(current, now)) return work(current);
      const expired: AccessRequest = { ...current, status: 'expired' };
      await record({
        event: 'request.expired',
        ...eventFor(current, 'system'),
        reason: `pending since ${current.createdAt}, expired at ${current.pendingExpiresAt}`,
      });
      try {
        return (await work(expired)) ?? expired;
      } catch (error) {
        refusal = { error };
        return expired;
      }
    });
    if (refusal) throw refusal.error;
    if (!stored) throw notFound(id);
    return stored;
  }

  /** Reads a request (no lock); one past its expiry is expired first. */
  async function load(id: string, now: Date): Promise<AccessRequest> {
    const found = REQUEST_ID.test(id) ? await store.get(id) : undefined;
    if (!found) throw notFound(id);
    return isDue(found, now) ? act(id, now, async () => undefined) : found;
  }

  return {
    deps,
    policy: deps.policy,
    clock: deps.clock,
    record,
    notify: (kind, request, actor) => deps.notifier?.notify({ kind, request, actor: actor.user }),
    act,
    load,
  };
}
