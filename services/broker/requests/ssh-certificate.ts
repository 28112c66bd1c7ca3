/**
 * The session certificate: an OpenSSH user certificate for the requester's
 * own key, signed once per approved request with the SSH user CA (used here
 * and nowhere else), its scope, runbook and moderation signed in.
 */
import { AirlockError } from '../../core/errors.js';
import {
  type Policy,
  type Profile,
  renderGroups,
  roleGroups,
  runbookScope,
  type ScopeRunbook,
} from '../../core/policy/index.js';
import {
  parsePublicKeyLine,
  type ScopeModeration,
  type ScopeModeratorRole,
  signUserCertificate,
} from '../../core/ssh-cert/index.js';
import type { Identity } from '../identity.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import { type BrokerContext, refuseAudited } from './context.js';
import { sameUser } from './request-rules.js';

/** The key id of a session certificate (what `ssh-keygen -L` and sshd logs show): `airlock:<request-id>:<user>`. */
export function certificateKeyId(requestId: string, user: string): string {
  return `airlock:${requestId}:${user}`;
}

/**
 * The runbook a request's certificate names: the digest recorded when the
 * request was made (the steps that were approved), or, for a request stored
 * before digests were recorded, the steps of the policy now. Refuses a runbook
 * the policy no longer has.
 */
function runbookOfRequest(policy: Policy, request: AccessRequest): ScopeRunbook | undefined {
  const name = request.scope.runbook;
  if (name === undefined) return undefined;
  const now = runbookScope(policy, name);
  if (!now) throw new AirlockError('SCOPE_RUNBOOK_STALE', `runbook ${name} no longer exists`);
  return { name, stepsDigest: request.runbookStepsDigest ?? now.stepsDigest };
}

/**
 * What a certificate says about moderation: a moderator request gets the
 * moderator role (the requester's moderator groups now), any other request
 * of a moderated profile the profile's requirement now, so it travels signed
 * to both tiers. Refuses a moderator request whose profile is no longer
 * moderated or whose requester left its moderator groups.
 */
function moderationOfRequest(
  profile: Profile,
  request: AccessRequest,
): { moderation?: ScopeModeration; moderator?: ScopeModeratorRole } {
  const rule = profile.moderation;
  const role = request.scope.role;
  if (role === undefined) {
    if (!rule) return {};
    return { moderation: { requiredGroups: [...rule.requiredGroups], min: rule.min, mode: rule.mode } };
  }
  const groups = [...new Set(roleGroups(rule, role))].filter((g) => request.requester.groups.includes(g));
  if (groups.length === 0)
    throw new AirlockError('REQUEST_DENIED', `the profile no longer has a ${role} role for the requester`);
  return { moderator: role === 'observer' ? { groups, role } : { groups } };
}

/** Signs the certificate of an approved request; returns the record with it and the audit details. */
function signRequestCertificate(ctx: BrokerContext, request: AccessRequest, now: Date) {
  const { policy, deps } = ctx;
  const approvedAt = new Date(request.approvedAt ?? '');
  const accessExpiresAt = new Date(request.accessExpiresAt ?? '');
  if (!(now.getTime() < accessExpiresAt.getTime())) {
    throw new AirlockError('REQUEST_EXPIRED', `the access granted by request ${request.id} has expired`);
  }
  const profile = Object.hasOwn(policy.profiles, request.scope.profile)
    ? policy.profiles[request.scope.profile]
    : undefined;
  if (!profile)
    throw new AirlockError('PROFILE_UNKNOWN', `profile ${request.scope.profile} no longer exists`);
  const role = moderationOfRequest(profile, request);
  // A moderator acts as nobody in Kubernetes: no jit: groups.
  const groups = role.moderator ? [] : renderGroups(profile, request.scope);
  // PROTOCOL.certkeys extensions: grant only what the profile allows.
  const extensions: Record<string, string> = {};
  const runbook = runbookOfRequest(policy, request);
  // A runbook session may exec its steps and nothing else: no pty, no forwarding.
  // A moderator gets a pty for `ssh -t gw join` and nothing else.
  if ((profile.actions.shell && !runbook) || role.moderator) extensions['permit-pty'] = '';
  if (profile.actions['port-forward'] && !runbook && !role.moderator)
    extensions['permit-port-forwarding'] = '';
  const keyId = certificateKeyId(request.id, request.requester.user);
  const signed = signUserCertificate({
    caPrivateKey: typeof deps.caKey === 'function' ? deps.caKey() : deps.caKey,
    publicKey: parsePublicKeyLine(request.sshPublicKey).key,
    keyId,
    principals: [request.requester.user],
    validAfter: approvedAt,
    validBefore: accessExpiresAt,
    extensions,
    scope: {
      cluster: request.scope.cluster,
      namespace: request.scope.namespace,
      podPatterns: [...request.scope.podPatterns],
      profile: request.scope.profile,
      requestId: request.id,
      groups,
      ...(runbook ? { runbook } : {}),
      ...(request.scope.containerPatterns ? { containerPatterns: [...request.scope.containerPatterns] } : {}),
      ...role,
    },
  });
  const updated: AccessRequest = {
    ...request,
    certificate: {
      serial: signed.serial.toString(),
      keyId,
      line: signed.line,
      validAfter: approvedAt.toISOString(),
      validBefore: accessExpiresAt.toISOString(),
      issuedAt: now.toISOString(),
    },
  };
  const details = {
    serial: signed.serial.toString(),
    key_id: keyId,
    key_fingerprint: request.keyFingerprint,
    valid_after: approvedAt.toISOString(),
    valid_before: accessExpiresAt.toISOString(),
    extensions: Object.keys(extensions),
    groups,
  };
  return { updated, details };
}

/** Signs (once) and returns the requester's certificate. */
export async function issueCertificate(
  ctx: BrokerContext,
  actor: Identity,
  id: string,
): Promise<AccessRequest> {
  const now = ctx.clock();
  return ctx.act(id, now, async (request) => {
    if (!sameUser(actor, request.requester)) {
      return refuseAudited(ctx, {
        event: 'cert.issued',
        request,
        actor,
        code: 'ACCESS_FORBIDDEN',
        reason: 'only the requester may fetch the certificate',
      });
    }
    if (request.status === 'expired') throw new AirlockError('REQUEST_EXPIRED', `request ${id} has expired`);
    if (request.status !== 'approved') {
      throw new AirlockError('REQUEST_STATE', `request ${id} is ${request.status}, not approved`);
    }
    if (request.certificate) return undefined; // issued once; the stored record answers
    const { updated, details } = signRequestCertificate(ctx, request, now);
    await ctx.record({ event: 'cert.issued', ...eventFor(request, actor), decision: 'allow', details });
    return updated;
  });
}
