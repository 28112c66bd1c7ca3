/**
 * The broker's HTTPS JSON API (node:https, no framework). The adapter only
 * translates: it authenticates the bearer token, parses the body, calls the
 * AccessBroker and turns AirlockErrors into `{"code","message"}` with an HTTP
 * status. Operator detail goes to the log, never to the client.
 *
 *   GET  /v1/config                       issuer and client id for `airlock login` (no auth)
 *   GET  /v1/ssh-ca                       the SSH user CA public keys the tiers must trust (no auth)
 *   GET  /v1/whoami                       the authenticated identity
 *   POST /v1/requests                     create; 201 pending/approved, 403 denied by policy
 *   GET  /v1/requests?mine=1|?pending=1   own requests | pending requests the caller may approve
 *   GET  /v1/requests/:id
 *   POST /v1/requests/:id/approve|deny    {"comment"?}
 *   POST /v1/requests/:id/certificate     the requester's OpenSSH user certificate (ephemeral mode:
 *                                         and the host CA keys its mediator's host certificate verifies with)
 *   POST /v1/requests/:id/revoke          {"comment"?}
 *   GET  /v1/requests/:id/kube-certificate   the CSR subject a kube client certificate needs
 *   POST /v1/requests/:id/kube-certificate   {"csr","ttlSeconds","cluster"?} → Kubernetes client
 *                                            certificate for the requester's CSR (docs/kubectl.md)
 *   POST /v1/audit/witness                {"head"} a tier's signed checkpoint head, recorded in the
 *                                         broker's trail (no auth: the signature is checked; audit-witness.ts)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AirlockError, type ErrorCode, isAirlockError } from '../core/errors.js';
import { routeOf } from './broker-metrics.js';
import type { BrokerApiDeps } from './http-api-deps.js';
import { routeApiCall, send } from './http-routes.js';
import { httpStatusFor } from './http-status.js';

export type { BrokerApiDeps, PublicBrokerInfo, PublishedSshCaKey } from './http-api-deps.js';
export { httpStatusFor } from './http-status.js';

const AUTH_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'AUTH_REQUIRED',
  'AUTH_INVALID',
  'AUTH_EXPIRED',
  'AUTH_UNVERIFIED',
]);

/** Creates the request handler. */
export function createBrokerApiHandler(
  deps: BrokerApiDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const log = deps.log ?? (() => {});

  /** Records the refusal before answering; a failed append is logged (the answer is a refusal anyway). */
  async function auditUnverified(req: IncomingMessage, error: AirlockError): Promise<void> {
    try {
      await deps.audit?.append({
        event: 'auth.denied',
        actor: { kind: 'user', address: `${req.socket.remoteAddress}:${req.socket.remotePort}` },
        target: {},
        decision: 'deny',
        code: error.code,
        reason: error.message,
        ...(error.detail === undefined ? {} : { details: { token: error.detail } }),
      });
    } catch (cause) {
      log({ level: 'error', message: `audit: ${String(cause)}` });
    }
  }

  return (req, res) => {
    const started = performance.now();
    if (deps.observer) {
      const observer = deps.observer;
      res.once('finish', () => {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        observer.request(
          routeOf(path),
          req.method ?? 'GET',
          res.statusCode,
          (performance.now() - started) / 1000,
        );
      });
    }
    routeApiCall(deps, req, res).catch(async (error: unknown) => {
      if (isAirlockError(error)) {
        if (AUTH_FAILURES.has(error.code)) deps.observer?.authFailed(error.code);
        log({ level: 'info', code: error.code, message: error.message, detail: error.detail, path: req.url });
        if (error.code === 'AUTH_UNVERIFIED') await auditUnverified(req, error);
        if (!res.headersSent)
          send(res, httpStatusFor(error.code), { code: error.code, message: error.message });
        return;
      }
      log({
        level: 'error',
        message: (error as Error)?.message,
        stack: (error as Error)?.stack,
        path: req.url,
      });
      if (!res.headersSent) send(res, 500, { code: 'INTERNAL', message: 'internal error' });
    });
  };
}
