/**
 * The access broker's domain service: access requests, approvals, denials,
 * expiry, certificate issuance and revocation. Every decision comes from the
 * policy library (`decideRequest`, `canApprove`), every state change is
 * audited (request.* / cert.* events on the broker trail, with the actor)
 * before it is stored, and the SSH user CA private key is used by this
 * service (requests/ssh-certificate.ts) and nowhere else.
 *
 * Transport-free: the HTTPS adapter (http-api.ts) authenticates the caller
 * and passes the `Identity` in; errors are AirlockErrors with stable codes.
 *
 * This file composes the operations; each concern lives in requests/ and
 * gets the shared state as one `BrokerContext` (requests/context.ts).
 */
import { createBrokerContext } from './requests/context.js';
import { createRequest } from './requests/create.js';
import {
  approveRequest,
  denyRequest,
  expirePending,
  getRequest,
  listRequests,
} from './requests/decisions.js';
import { issueKubeCertificate, kubeCertificateTarget } from './requests/kube-certificate.js';
import { revokeRequest } from './requests/revocation.js';
import { issueCertificate } from './requests/ssh-certificate.js';
import type { AccessBroker, AccessBrokerDeps } from './requests/types.js';

export { revocationEntryOf } from './requests/revocation.js';
export { certificateKeyId } from './requests/ssh-certificate.js';
export type {
  AccessBroker,
  AccessBrokerDeps,
  CreateRequestInput,
  IssuedKubeCertificate,
  KubeCertificateInput,
  KubeCertificateSubject,
} from './requests/types.js';

/** Creates the broker service. */
export function createAccessBroker(deps: AccessBrokerDeps): AccessBroker {
  const ctx = createBrokerContext(deps);
  return {
    create: (actor, raw) => createRequest(ctx, actor, raw),
    get: (actor, id) => getRequest(ctx, actor, id),
    list: (actor, filter) => listRequests(ctx, actor, filter),
    approve: (actor, id, comment) => approveRequest(ctx, actor, id, comment),
    deny: (actor, id, comment) => denyRequest(ctx, actor, id, comment),
    issueCertificate: (actor, id) => issueCertificate(ctx, actor, id),
    revoke: (actor, id, comment) => revokeRequest(ctx, actor, id, comment),
    kubeCertificateSubject: (actor, id) =>
      kubeCertificateTarget(ctx, actor, id, ctx.clock()).then((target) => target.subject),
    issueKubeCertificate: (actor, id, input) => issueKubeCertificate(ctx, actor, id, input),
    expirePending: () => expirePending(ctx),
  };
}
