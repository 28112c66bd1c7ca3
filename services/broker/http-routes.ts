/**
 * The broker API's routes (the table in services/broker/http-api.ts's module
 * comment): each parses what it needs, calls the AccessBroker and answers;
 * errors propagate to the handler in http-api.ts, which turns them into
 * `{"code","message"}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AirlockError } from '../core/errors.js';
import type { BrokerApiDeps } from './http-api-deps.js';
import { httpStatusFor } from './http-status.js';
import type { Identity } from './identity.js';

/** Largest request body accepted (a public key line plus a reason fit easily). */
const MAX_BODY_BYTES = 64 * 1024;

/** Answers with `body` as JSON, never cached. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The JSON body (at most MAX_BODY_BYTES; empty: `{}`); USAGE when too large, not JSON or not declared as JSON. */
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

/** The optional `comment` of an approve, deny or revoke body (USAGE when not a string). */
function comment(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null)
    throw new AirlockError('USAGE', 'the body must be a JSON object');
  const value = (body as Record<string, unknown>).comment;
  if (value !== undefined && typeof value !== 'string')
    throw new AirlockError('USAGE', 'comment must be a string');
  return value;
}

/** One authenticated API call. */
interface ApiCall {
  readonly deps: BrokerApiDeps;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly actor: Identity;
}

/** POST /v1/requests: 201 with the request, or the policy's refusal with its code and rule. */
async function createRequest({ deps, req, res, actor }: ApiCall): Promise<void> {
  const created = await deps.broker.create(actor, (await readJson(req)) as never);
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

/** GET /v1/requests?mine=1 | ?pending=1. */
async function listRequests({ deps, res, url, actor }: ApiCall): Promise<void> {
  const filter = url.searchParams.get('pending') === '1' ? 'pending' : 'mine';
  if (url.searchParams.get('mine') !== '1' && filter !== 'pending') {
    throw new AirlockError('USAGE', 'list with ?mine=1 or ?pending=1');
  }
  return send(res, 200, { requests: await deps.broker.list(actor, filter) });
}

/** POST /v1/requests/:id/certificate: the user certificate (and, ephemeral mode, the host CA keys). */
async function issueCertificate({ deps, actor }: ApiCall, id: string) {
  const issued = await deps.broker.issueCertificate(actor, id);
  const cert = issued.certificate;
  if (!cert) throw new AirlockError('INTERNAL', 'certificate missing after issuance');
  return {
    requestId: issued.id,
    certificate: cert.line,
    serial: cert.serial,
    keyId: cert.keyId,
    validAfter: cert.validAfter,
    validBefore: cert.validBefore,
    ...(deps.hostCaKeys ? { hostCertificateAuthorities: deps.hostCaKeys } : {}),
  };
}

type RequestAction = 'approve' | 'deny' | 'certificate' | 'revoke' | 'kube-certificate';

/** POST /v1/requests/:id/<action>: each answers 200 with what it returns. */
const POST_ACTIONS: Readonly<
  Record<RequestAction, (call: ApiCall, id: string, body: unknown) => Promise<unknown>>
> = {
  approve: ({ deps, actor }, id, body) => deps.broker.approve(actor, id, comment(body)),
  deny: ({ deps, actor }, id, body) => deps.broker.deny(actor, id, comment(body)),
  revoke: ({ deps, actor }, id, body) => deps.broker.revoke(actor, id, comment(body)),
  'kube-certificate': ({ deps, actor }, id, body) =>
    deps.broker.issueKubeCertificate(actor, id, body as never),
  certificate: (call, id) => issueCertificate(call, id),
};

const REQUEST_PATH = /^\/v1\/requests\/([^/]+)(?:\/(approve|deny|certificate|revoke|kube-certificate))?$/;

/** /v1/requests/:id[/action]; false when no route matches. */
async function routeRequestItem(call: ApiCall, method: string, path: string): Promise<boolean> {
  const match = REQUEST_PATH.exec(path);
  if (!match) return false;
  const { deps, actor, res } = call;
  const id = decodeURIComponent(match[1] ?? '');
  const action = match[2] as RequestAction | undefined;
  if (action === undefined && method === 'GET') {
    send(res, 200, await deps.broker.get(actor, id));
    return true;
  }
  if (action === 'kube-certificate' && method === 'GET') {
    send(res, 200, await deps.broker.kubeCertificateSubject(actor, id));
    return true;
  }
  if (action !== undefined && method === 'POST') {
    const body = await readJson(call.req);
    send(res, 200, await POST_ACTIONS[action](call, id, body));
    return true;
  }
  return false;
}

/**
 * Routes one call: the public routes first, then (everything else under
 * /v1/ authenticated) whoami and the requests. REQUEST_NOT_FOUND when no
 * route matches.
 */
export async function routeApiCall(
  deps: BrokerApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://broker.invalid');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
  if (method === 'GET' && path === '/v1/config') return send(res, 200, deps.info);
  if (method === 'GET' && path === '/v1/ssh-ca' && deps.sshCaKeys) {
    return send(res, 200, { keys: deps.sshCaKeys() });
  }
  if (!path.startsWith('/v1/')) throw new AirlockError('REQUEST_NOT_FOUND', `no route ${method} ${path}`);
  // A tier's checkpoint head: no bearer token, the head's signature is checked (audit-witness.ts).
  if (method === 'POST' && path === '/v1/audit/witness' && deps.witness) {
    return send(res, 200, await deps.witness.record(await readJson(req)));
  }

  const actor: Identity = await deps.authenticator.authenticate(req.headers.authorization);
  const call: ApiCall = { deps, req, res, url, actor };
  if (method === 'GET' && path === '/v1/whoami') {
    return send(res, 200, { user: actor.user, groups: actor.groups, kind: actor.kind });
  }
  if (path === '/v1/requests' && method === 'POST') return createRequest(call);
  if (path === '/v1/requests' && method === 'GET') return listRequests(call);
  if (await routeRequestItem(call, method, path)) return;
  throw new AirlockError('REQUEST_NOT_FOUND', `no route ${method} ${path}`);
}
