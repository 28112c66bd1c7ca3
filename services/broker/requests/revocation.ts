/**
 * Revoking approved access: the deny list (and KRL) first, then the record;
 * in ephemeral mode the request's tiers are deleted afterwards.
 */
import { AirlockError } from '../../core/errors.js';
import { parseCertificateLine } from '../../core/ssh-cert/index.js';
import type { RevocationEntry } from '../deny-list.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import { type RequestDecision, refuseAudited } from './context.js';
import { mayView, vote } from './request-rules.js';
import { certificateKeyId } from './ssh-certificate.js';

export const revokeRequest: RequestDecision = async (ctx, actor, id, comment) => {
  const now = ctx.clock();
  const updated = await ctx.act(id, now, async (request) => {
    const allowed = mayView(ctx.policy, ctx.deps.adminGroups, actor, request);
    if (!allowed) {
      return refuseAudited(ctx, {
        event: 'cert.revoked',
        request,
        actor,
        code: 'ACCESS_FORBIDDEN',
        reason: 'only the requester, an approver or an admin may revoke',
      });
    }
    if (request.status !== 'approved') {
      throw new AirlockError(
        'REQUEST_STATE',
        `request ${id} is ${request.status}; only approved access can be revoked`,
      );
    }
    const { keyId, serial, ...rest } = revocationEntryOf(request);
    // The deny list first: once the record says revoked, the certificate must already be refused.
    await ctx.deps.denyList.revoke({ keyId, serial, ...rest });
    const updated: AccessRequest = {
      ...request,
      status: 'revoked',
      revocation: vote(actor, now, comment),
    };
    await ctx.record({
      event: 'cert.revoked',
      ...eventFor(request, actor),
      decision: 'allow',
      reason: comment ?? 'revoked',
      details: { key_id: keyId, ...(serial === undefined ? {} : { serial: serial.toString() }) },
    });
    return updated;
  });
  ctx.notify('revoked', updated, actor);
  await ctx.deps.tiers?.ended(updated, 'revoked');
  return updated;
};

/** What revoking `request` adds to the revocation lists: its key id, and its certificate's serial and CA. */
export function revocationEntryOf(request: AccessRequest): RevocationEntry & { keyId: string } {
  const keyId = certificateKeyId(request.id, request.requester.user);
  if (request.certificate === undefined) return { keyId };
  return {
    keyId,
    serial: BigInt(request.certificate.serial),
    // The KRL scopes the serial to the CA that signed this certificate (not necessarily today's signer).
    caKey: parseCertificateLine(request.certificate.line).certificate.signatureKey.blob,
  };
}
