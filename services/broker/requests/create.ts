/**
 * Creating a request: the shape check, the policy's decision (auto-approved,
 * pending or denied), the new record and its audit records, stored as one
 * transaction; an auto-approved request in ephemeral mode launches its tiers.
 */
import { randomBytes } from 'node:crypto';
import { AirlockError } from '../../core/errors.js';
import { decideRequest, type RequestedScope, runbookScope } from '../../core/policy/index.js';
import { parsePublicKeyLine, sha256Fingerprint } from '../../core/ssh-cert/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import type { BrokerContext } from './context.js';
import type { CreateRequestInput } from './types.js';
import { validateInput } from './validate.js';

type Decision = ReturnType<typeof decideRequest>;

function keyFingerprintOf(input: CreateRequestInput): string {
  try {
    return sha256Fingerprint(parsePublicKeyLine(input.sshPublicKey).key.blob);
  } catch (cause) {
    throw new AirlockError('USAGE', 'sshPublicKey is not an OpenSSH public key line', { cause });
  }
}

function requestedScopeOf(input: CreateRequestInput): RequestedScope {
  return {
    profile: input.profile,
    cluster: input.cluster,
    namespace: input.namespace,
    podPatterns: [...input.podPatterns],
    ttlSeconds: input.ttlSeconds,
    reason: input.reason,
    ...(input.runbook === undefined ? {} : { runbook: input.runbook }),
    ...(input.containerPatterns === undefined ? {} : { containerPatterns: [...input.containerPatterns] }),
    ...(input.role === undefined ? {} : { role: input.role }),
  };
}

/** The new record: approved, pending (with its expiry) or denied, as the policy decided. */
function newRequest(
  ctx: BrokerContext,
  actor: Identity,
  made: { input: CreateRequestInput; scope: RequestedScope; keyFingerprint: string },
  decision: Decision,
  now: Date,
): AccessRequest {
  const { input, scope, keyFingerprint } = made;
  // The steps approved are the steps of now: the certificate names them
  // by digest, so a runbook edited before the session no longer runs.
  const runbook = scope.runbook === undefined ? undefined : runbookScope(ctx.policy, scope.runbook);
  const base = {
    id: `req-${randomBytes(10).toString('hex')}`,
    requester: { user: actor.user, groups: [...actor.groups], kind: actor.kind },
    scope,
    sshPublicKey: input.sshPublicKey.trim(),
    keyFingerprint,
    decision,
    createdAt: now.toISOString(),
    approvals: [],
    ...(runbook === undefined ? {} : { runbookStepsDigest: runbook.stepsDigest }),
  };
  if (decision.decision === 'auto-approved') {
    return {
      ...base,
      status: 'approved',
      approvedAt: now.toISOString(),
      accessExpiresAt: new Date(now.getTime() + scope.ttlSeconds * 1000).toISOString(),
    };
  }
  if (decision.decision === 'needs-approval') {
    const pendingSeconds = decision.approvers?.pendingExpirySeconds ?? 0;
    return {
      ...base,
      status: 'pending',
      pendingExpiresAt: new Date(now.getTime() + pendingSeconds * 1000).toISOString(),
    };
  }
  return { ...base, status: 'denied' };
}

/** request.created, then request.approved (auto) or request.denied (by policy). */
async function recordCreation(
  ctx: BrokerContext,
  actor: Identity,
  request: AccessRequest,
  decision: Decision,
): Promise<void> {
  const { scope } = request;
  await ctx.record({
    event: 'request.created',
    ...eventFor(request, actor),
    details: {
      profile: scope.profile,
      pods: [...scope.podPatterns],
      ttl_seconds: scope.ttlSeconds,
      key_fingerprint: request.keyFingerprint,
      decision: decision.decision,
      ...(decision.rule === undefined ? {} : { rule: decision.rule }),
      ...(scope.runbook === undefined ? {} : { runbook: scope.runbook }),
    },
    reason: scope.reason,
  });
  if (decision.decision === 'auto-approved') {
    await ctx.record({
      event: 'request.approved',
      ...eventFor(request, actor),
      decision: 'allow',
      reason: `auto-approved by ${decision.rule ?? 'policy'}`,
      details: { auto: true, ...(decision.rule === undefined ? {} : { rule: decision.rule }) },
    });
  } else if (decision.decision === 'denied') {
    await ctx.record({
      event: 'request.denied',
      ...eventFor(request, actor),
      decision: 'deny',
      code: decision.code ?? 'REQUEST_DENIED',
      reason: decision.reasons.join('; '),
      details: { by: 'policy', ...(decision.rule === undefined ? {} : { rule: decision.rule }) },
    });
  }
}

export async function createRequest(
  ctx: BrokerContext,
  actor: Identity,
  raw: unknown,
): Promise<AccessRequest> {
  const input = validateInput(raw);
  const keyFingerprint = keyFingerprintOf(input);
  const now = ctx.clock();
  const scope = requestedScopeOf(input);
  const decision = decideRequest(ctx.policy, actor, scope, now);
  const request = newRequest(ctx, actor, { input, scope, keyFingerprint }, decision, now);
  await ctx.deps.store.update(request.id, async (current) => {
    if (current) throw new AirlockError('INTERNAL', `request id ${request.id} is taken`);
    await recordCreation(ctx, actor, request, decision);
    return request;
  });
  if (request.status === 'pending') ctx.notify('pending', request, actor);
  if (request.status === 'approved' && ctx.deps.tiers) return ctx.deps.tiers.approved(request);
  return request;
}
