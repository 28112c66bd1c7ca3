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
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AuditTrail } from '../core/audit/types.js';
import { AirlockError, type ErrorCode, isAirlockError } from '../core/errors.js';
import type { AccessBroker } from './access-broker.js';
import { type BrokerHttpObserver, routeOf } from './broker-metrics.js';
import type { Authenticator, Identity } from './identity.js';

/** Largest request body accepted (a public key line plus a reason fit easily). */
const MAX_BODY_BYTES = 64 * 1024;

/** HTTP status for each code the API returns. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'CERT_MALFORMED':
    case 'X509_INVALID':
      return 400;
    case 'AUTH_REQUIRED':
    case 'AUTH_INVALID':
    case 'AUTH_EXPIRED':
    case 'AUTH_UNVERIFIED':
      return 401;
    case 'ACCESS_FORBIDDEN':
    case 'APPROVAL_NOT_ALLOWED':
    case 'REQUEST_DENIED':
    case 'PROFILE_UNKNOWN':
    case 'SCOPE_CLUSTER':
    case 'SCOPE_NAMESPACE':
    case 'SCOPE_POD':
    case 'SCOPE_CONTAINER':
    case 'SCOPE_RUNBOOK_STALE':
    case 'TTL_TOO_LONG':
    case 'CSR_SUBJECT_MISMATCH':
      return 403;
    case 'REQUEST_NOT_FOUND':
      return 404;
    case 'REQUEST_STATE':
    case 'REQUEST_EXPIRED':
      return 409;
    case 'AUDIT_UNAVAILABLE':
    case 'STORE_UNAVAILABLE':
      return 503;
    case 'KUBE_CERT_UNAVAILABLE':
      return 501;
    case 'KUBERNETES_ERROR':
      return 502;
    default:
      return 500;
  }
}

/** What the API tells unauthenticated clients so they can log in. */
export interface PublicBrokerInfo {
  readonly issuer: string;
  readonly clientId: string;
}

/** One SSH user CA public key as `GET /v1/ssh-ca` lists it. */
export interface PublishedSshCaKey {
  /** `TrustedUserCAKeys` line. */
  readonly publicKey: string;
  readonly fingerprint: string;
  /** Whether the broker signs with it now. */
  readonly active: boolean;
}

/** Dependencies of the handler. */
export interface BrokerApiDeps {
  readonly broker: AccessBroker;
  readonly authenticator: Authenticator;
  readonly info: PublicBrokerInfo;
  /**
   * The SSH user CA public keys (every key of the keyring, the signer
   * marked), published so operators and tiers can check a rotation.
   */
  readonly sshCaKeys?: () => readonly PublishedSshCaKey[];
  /**
   * Ephemeral mode: the airlock host CA public key lines. Each certificate
   * response carries them as `hostCertificateAuthorities`, so `airlock cert
   * --door` writes `@cert-authority <request id> <key>` from the same
   * authenticated TLS answer as the user certificate, no extra file.
   */
  readonly hostCaKeys?: readonly string[];
  /** Operator log (detail of errors); default: none. */
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Metrics of authentication failures and request latency; default: none. */
  readonly observer?: BrokerHttpObserver;
  /**
   * Audit trail for refused sign-ins that the IdP signed (AUTH_UNVERIFIED:
   * an authentic token whose user name is not verified). Other
   * authentication failures are anonymous noise and only logged and counted.
   */
  readonly audit?: Pick<AuditTrail, 'append'>;
}

const AUTH_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'AUTH_REQUIRED',
  'AUTH_INVALID',
  'AUTH_EXPIRED',
  'AUTH_UNVERIFIED',
]);

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AirlockError('USAGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/.test(type))
    throw new AirlockError('USAGE', 'the body must be application/json');
  try {
    return JSON.parse(text);
  } catch {
    throw new AirlockError('USAGE', 'the body is not valid JSON');
  }
}

function comment(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null)
    throw new AirlockError('USAGE', 'the body must be a JSON object');
  const value = (body as Record<string, unknown>).comment;
  if (value !== undefined && typeof value !== 'string')
    throw new AirlockError('USAGE', 'comment must be a string');
  return value;
}

/** Creates the request handler. */
export function createBrokerApiHandler(
  deps: BrokerApiDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { broker, authenticator } = deps;
  const log = deps.log ?? (() => {});

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://broker.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
    if (method === 'GET' && path === '/v1/config') return send(res, 200, deps.info);
    if (method === 'GET' && path === '/v1/ssh-ca' && deps.sshCaKeys) {
      return send(res, 200, { keys: deps.sshCaKeys() });
    }
    if (!path.startsWith('/v1/')) throw new AirlockError('REQUEST_NOT_FOUND', `no route ${method} ${path}`);

    const actor: Identity = await authenticator.authenticate(req.headers.authorization);
    if (method === 'GET' && path === '/v1/whoami') {
      return send(res, 200, { user: actor.user, groups: actor.groups, kind: actor.kind });
    }
    if (path === '/v1/requests') {
      if (method === 'POST') {
        const created = await broker.create(actor, (await readJson(req)) as never);
        if (created.status === 'denied') {
          return send(res, httpStatusFor(created.decision.code ?? 'REQUEST_DENIED'), {
            code: created.decision.code ?? 'REQUEST_DENIED',
            message: created.decision.reasons.join('; ') || 'denied by policy',
            requestId: created.id,
            rule: created.decision.rule,
          });
        }
        return send(res, 201, created);
      }
      if (method === 'GET') {
        const filter = url.searchParams.get('pending') === '1' ? 'pending' : 'mine';
        if (url.searchParams.get('mine') !== '1' && filter !== 'pending') {
          throw new AirlockError('USAGE', 'list with ?mine=1 or ?pending=1');
        }
        return send(res, 200, { requests: await broker.list(actor, filter) });
      }
    }
    const match = /^\/v1\/requests\/([^/]+)(?:\/(approve|deny|certificate|revoke|kube-certificate))?$/.exec(
      path,
    );
    if (match) {
      const id = decodeURIComponent(match[1] ?? '');
      const action = match[2];
      if (action === undefined && method === 'GET') return send(res, 200, await broker.get(actor, id));
      if (action === 'kube-certificate' && method === 'GET') {
        return send(res, 200, await broker.kubeCertificateSubject(actor, id));
      }
      if (action !== undefined && method === 'POST') {
        const body = await readJson(req);
        switch (action) {
          case 'approve':
            return send(res, 200, await broker.approve(actor, id, comment(body)));
          case 'deny':
            return send(res, 200, await broker.deny(actor, id, comment(body)));
          case 'revoke':
            return send(res, 200, await broker.revoke(actor, id, comment(body)));
          case 'kube-certificate':
            return send(res, 200, await broker.issueKubeCertificate(actor, id, body as never));
          case 'certificate': {
            const issued = await broker.issueCertificate(actor, id);
            const cert = issued.certificate;
            if (!cert) throw new AirlockError('INTERNAL', 'certificate missing after issuance');
            return send(res, 200, {
              requestId: issued.id,
              certificate: cert.line,
              serial: cert.serial,
              keyId: cert.keyId,
              validAfter: cert.validAfter,
              validBefore: cert.validBefore,
              ...(deps.hostCaKeys ? { hostCertificateAuthorities: deps.hostCaKeys } : {}),
            });
          }
        }
      }
    }
    throw new AirlockError('REQUEST_NOT_FOUND', `no route ${method} ${path}`);
  }

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
    route(req, res).catch(async (error: unknown) => {
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

/** A listening broker API server. */
export interface ListeningServer {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Starts an HTTPS server with the handler. */
export async function listenHttps(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls: { key: string; cert: string },
  host: string,
  port: number,
): Promise<ListeningServer> {
  const server = createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${shown}:${address.port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
