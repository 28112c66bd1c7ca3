/**
 * When a request's ephemeral tiers are created and deleted: the broker calls
 * `approved` once a request is approved (stored) and `ended` when it is
 * revoked or denied; `sweep` runs at broker start and every
 * `launcher.sweepSeconds` and deletes the objects of every request that is
 * not approved-and-live (expired, revoked, denied, failed, pruned, or
 * unknown to this broker — e.g. left by a broker that crashed mid-launch),
 * and replaces the pod of a live request that is gone (an executor pod
 * deleted or evicted mid-session: the session ends with EXECUTOR_UNAVAILABLE,
 * a new connection works once the replacement is ready — within one sweep
 * period plus the pod's start).
 *
 * Every outcome is audited on the broker trail (`tiers.launched` allow/deny,
 * `tiers.deleted`) and a launch is recorded on the request
 * (`AccessRequest.launch`), so `airlock status` shows LAUNCH_FAILED and
 * Kubernetes' reason.
 */
import type { AuditTrail } from '../../core/audit/index.js';
import { AirlockError } from '../../core/errors.js';
import type { LogEntry } from '../../core/observability/logging.js';
import { type Policy, renderGroups } from '../../core/policy/index.js';
import type { AccessRequest, LaunchState, RequestStore } from '../request-store.js';
import { launchNames } from './launch-names.js';
import { remainingSeconds, type TierLauncher } from './tier-launcher.js';

/** Dependencies of {@link createTierLifecycle}. */
export interface TierLifecycleDeps {
  readonly launcher: TierLauncher;
  readonly store: RequestStore;
  readonly audit: AuditTrail;
  readonly policy: Policy;
  readonly clock: () => Date;
  readonly log?: (entry: LogEntry) => void;
}

/** The broker's hooks into the launcher. */
export interface TierLifecycle {
  /**
   * Launches the tiers of `request` (status approved) and records the outcome
   * on it; resolves to the request as stored. A refusal by Kubernetes does
   * not throw: it is recorded (`launch.status: 'failed'`, LAUNCH_FAILED) and
   * audited. Throws only when the audit trail or the store fails.
   */
  approved(request: AccessRequest): Promise<AccessRequest>;
  /** Deletes the tiers of a revoked or denied request; a failure is logged and left to the sweep. */
  ended(request: AccessRequest, reason: string): Promise<void>;
  /**
   * Deletes the objects of every request that is not approved-and-live
   * (resolves to their ids) and replaces the gone pods of live ones.
   */
  sweep(): Promise<string[]>;
}

function isLive(request: AccessRequest | undefined, now: Date): boolean {
  return (
    request?.status === 'approved' &&
    request.launch?.status !== 'failed' &&
    Date.parse(request.accessExpiresAt ?? '') > now.getTime()
  );
}

/** The audit target of a request's tiers. */
function targetOf(request: AccessRequest) {
  return { cluster: request.scope.cluster, namespace: request.scope.namespace };
}

/** The executor's jit: groups of a request, rendered from its profile now (LAUNCH_FAILED when it is gone). */
function groupsOf(policy: Policy, request: AccessRequest): string[] {
  const profile = Object.hasOwn(policy.profiles, request.scope.profile)
    ? policy.profiles[request.scope.profile]
    : undefined;
  if (!profile) throw new AirlockError('LAUNCH_FAILED', `profile ${request.scope.profile} no longer exists`);
  return renderGroups(profile, request.scope);
}

/** Why the sweep deletes the objects of a request that is not live. */
function sweepReason(request: AccessRequest | undefined): string {
  if (!request) return 'the broker knows no such request';
  if (request.status !== 'approved') return request.status;
  return request.launch?.status === 'failed' ? 'launch failed' : 'expired';
}

/** Deletes a request's objects and audits `tiers.deleted`; false (nothing audited) when there were none. */
async function removeTiers(
  { launcher, audit }: Pick<TierLifecycleDeps, 'launcher' | 'audit'>,
  requestId: string,
  reason: string,
  request?: AccessRequest,
): Promise<boolean> {
  if (!(await launcher.remove(requestId))) return false;
  await audit.append({
    event: 'tiers.deleted',
    actor: { kind: 'system' },
    target: request ? targetOf(request) : {},
    request_id: requestId,
    reason,
    details: { namespace: launcher.namespace, owner: launchNames(requestId).owner },
  });
  return true;
}

/**
 * Replaces the pods of a live request that are gone and audits it as
 * `tiers.launched` (allow, `details.replaced`); a failure is logged and
 * retried by the next sweep.
 */
async function restoreTiers(deps: TierLifecycleDeps, request: AccessRequest): Promise<void> {
  const { launcher, audit, clock } = deps;
  try {
    const now = clock();
    const replaced = await launcher.restore({
      requestId: request.id,
      accessExpiresAt: new Date(request.accessExpiresAt ?? ''),
      now,
    });
    if (replaced.length === 0) return;
    await audit.append({
      event: 'tiers.launched',
      actor: { kind: 'system' },
      target: targetOf(request),
      request_id: request.id,
      decision: 'allow',
      reason: `replaced the ${replaced.join(' and ')} pod (gone while the request is live)`,
      details: {
        namespace: launcher.namespace,
        owner: launchNames(request.id).owner,
        replaced,
        active_deadline_seconds: remainingSeconds(new Date(request.accessExpiresAt ?? ''), now),
      },
    });
    deps.log?.({ level: 'warn', message: `replaced the ${replaced.join(', ')} pod of ${request.id}` });
  } catch (error) {
    deps.log?.({ level: 'error', message: `replacing the pods of ${request.id} failed`, err: error });
  }
}

/**
 * Launches the tiers of `request`; a refusal (by Kubernetes or a vanished
 * profile) becomes a failed `LaunchState`, not an error. Returns the state
 * and the details of its `tiers.launched` record.
 */
async function launchTiers(
  { launcher, policy }: Pick<TierLifecycleDeps, 'launcher' | 'policy'>,
  request: AccessRequest,
  now: Date,
): Promise<{ launch: LaunchState; details: Record<string, unknown> }> {
  const owner = launchNames(request.id).owner;
  const details: Record<string, unknown> = { namespace: launcher.namespace, owner };
  try {
    const groups = groupsOf(policy, request);
    const result = await launcher.launch({
      requestId: request.id,
      cluster: request.scope.cluster,
      groups,
      accessExpiresAt: new Date(request.accessExpiresAt ?? ''),
      approvedAt: new Date(request.approvedAt ?? now.toISOString()),
      now,
    });
    return {
      launch: { status: 'launched', at: now.toISOString(), owner },
      details: {
        ...details,
        active_deadline_seconds: result.activeDeadlineSeconds,
        groups,
        // What the ephemeral mediator presents: a later question "was that host ours?" has its answer here.
        host_certificate: result.hostCertificate,
      },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      launch: { status: 'failed', at: now.toISOString(), owner, code: 'LAUNCH_FAILED', reason },
      details,
    };
  }
}

/** Creates the hooks. */
export function createTierLifecycle(deps: TierLifecycleDeps): TierLifecycle {
  const { launcher, store, audit, clock } = deps;

  async function approved(request: AccessRequest): Promise<AccessRequest> {
    const { launch, details } = await launchTiers(deps, request, clock());
    const stored = await store.update(request.id, async (current) => {
      if (!current) return undefined;
      await audit.append({
        event: 'tiers.launched',
        actor: { kind: 'system' },
        target: targetOf(request),
        request_id: request.id,
        decision: launch.status === 'launched' ? 'allow' : 'deny',
        ...(launch.status === 'failed' ? { code: 'LAUNCH_FAILED' as const, reason: launch.reason } : {}),
        details,
      });
      return { ...current, launch };
    });
    // Revoked while the pods were being made: they go now, not at the next sweep.
    if (stored && stored.status !== 'approved' && launch.status === 'launched') {
      await ended(stored, stored.status);
    }
    return stored ?? request;
  }

  async function ended(request: AccessRequest, reason: string): Promise<void> {
    try {
      await removeTiers(deps, request.id, reason, request);
    } catch (error) {
      deps.log?.({ level: 'error', message: `deleting the tiers of ${request.id} failed`, err: error });
    }
  }

  async function sweep(): Promise<string[]> {
    const out: string[] = [];
    for (const id of await launcher.launchedRequestIds()) {
      const request = await store.get(id);
      if (request && isLive(request, clock())) {
        // Only once its launch is recorded: during a launch its pods are not made yet, and
        // replacing them then would make the launch's own create fail (AlreadyExists).
        if (request.launch?.status === 'launched') await restoreTiers(deps, request);
      } else if (await removeTiers(deps, id, sweepReason(request), request)) out.push(id);
    }
    return out;
  }

  return { approved, ended, sweep };
}
