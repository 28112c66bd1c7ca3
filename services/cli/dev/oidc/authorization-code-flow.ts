/**
 * The dev provider's authorization code flow (OpenID Connect Core §3.1) for
 * native apps on loopback (RFC 8252), with mandatory PKCE S256 (RFC 7636).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { oauthError, redirectBack, send, sendPage, signInPage } from './oidc-http.js';

/** An authorization request waiting for the demo user to sign in (OIDC Core §3.1.2.1). */
interface PendingAuthorization {
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly nonce: string | undefined;
  /** BASE64URL(SHA256(code_verifier)) (RFC 7636 §4.2). */
  readonly codeChallenge: string;
  readonly expiresAt: number;
}

/** An issued authorization code, redeemable once. */
interface AuthorizationCode {
  readonly user: string;
  readonly redirectUri: string;
  readonly nonce: string | undefined;
  readonly codeChallenge: string;
  readonly expiresAt: number;
}

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL of a SHA-256 hash, 43 characters. */
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** How long the sign-in page of one authorization request stays usable. */
const SIGN_IN_TTL_MS = 600_000;

/**
 * RFC 8252 §7.3: a native app's loopback redirect, `http://127.0.0.1:PORT/…`
 * or `http://[::1]:PORT/…`, any port. `localhost` is refused (§8.3: it may
 * resolve elsewhere), as are user info and fragments. Returns the reason it
 * is refused, or undefined.
 */
export function loopbackRedirectProblem(redirectUri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return 'redirect_uri is not a URL';
  }
  if (url.protocol !== 'http:') return 'redirect_uri must be an http loopback URL (RFC 8252 §7.3)';
  if (url.hostname !== '127.0.0.1' && url.hostname !== '[::1]') {
    return 'redirect_uri must be on 127.0.0.1 or [::1] (RFC 8252 §7.3)';
  }
  if (url.port === '') return 'redirect_uri must name its port';
  if (url.username !== '' || url.password !== '' || url.hash !== '') {
    return 'redirect_uri must not carry user info or a fragment';
  }
  return undefined;
}

/** What the flow needs from the provider. */
export interface AuthorizationCodeFlowOptions {
  readonly clientId: string;
  readonly users: readonly string[];
  readonly codeTtlSeconds: number;
  readonly idTokenTtlSeconds: number;
  /** Signs the ID token of a signed-in demo user. */
  readonly mintIdToken: (user: string, nonce: string | undefined) => Promise<string>;
}

/** The flow's three endpoints. */
export interface AuthorizationCodeFlow {
  /** GET /authorize: checks the request (OIDC Core §3.1.2.2) and shows the demo login. */
  authorize(res: ServerResponse, query: URLSearchParams): void;
  /** POST /authorize: the demo user signs in (or denies); back to the client with a code. */
  complete(res: ServerResponse, form: URLSearchParams): void;
  /** POST /token with grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6). */
  redeem(res: ServerResponse, form: URLSearchParams): Promise<void>;
}

/** The flow's options and what it remembers between requests. */
interface FlowState {
  readonly options: AuthorizationCodeFlowOptions;
  /** Sign-in requests by request id. */
  readonly authorizations: Map<string, PendingAuthorization>;
  /** Issued codes, until redeemed or expired. */
  readonly codes: Map<string, AuthorizationCode>;
}

/** The demo sign-in page of one authorization request. */
function loginPage(flow: FlowState, requestId: string, message = ''): string {
  return signInPage({
    action: '/authorize',
    users: flow.options.users,
    message,
    hidden: { request: requestId },
  });
}

/** Drops sign-in requests and codes past their time. */
function forgetExpired({ authorizations, codes }: FlowState): void {
  for (const [id, old] of authorizations) if (old.expiresAt <= Date.now()) authorizations.delete(id);
  for (const [old, grant] of codes) if (grant.expiresAt <= Date.now()) codes.delete(old);
}

/** GET /authorize: see AuthorizationCodeFlow.authorize. */
function authorize(flow: FlowState, res: ServerResponse, query: URLSearchParams): void {
  const { options, authorizations } = flow;
  // Until client and redirect URI are checked, errors are shown here, never redirected (no open redirect).
  if (query.get('client_id') !== options.clientId) {
    sendPage(res, 400, loginPage(flow, '', 'unknown client_id'));
    return;
  }
  const redirectUri = query.get('redirect_uri') ?? '';
  const problem = loopbackRedirectProblem(redirectUri);
  if (problem) {
    sendPage(res, 400, loginPage(flow, '', problem));
    return;
  }
  const state = query.get('state') ?? undefined;
  const fail = (error: string, description: string) =>
    redirectBack(res, redirectUri, state, { error, error_description: description });
  if (query.get('response_type') !== 'code') {
    fail('unsupported_response_type', 'only response_type=code is supported');
    return;
  }
  if (!(query.get('scope') ?? '').split(' ').includes('openid')) {
    fail('invalid_scope', 'scope must include openid');
    return;
  }
  // RFC 7636 §4.4.1: PKCE is required of every client, and only S256.
  const codeChallenge = query.get('code_challenge') ?? '';
  if (query.get('code_challenge_method') !== 'S256' || !CODE_CHALLENGE.test(codeChallenge)) {
    fail('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256');
    return;
  }
  const requestId = randomBytes(16).toString('base64url');
  forgetExpired(flow);
  authorizations.set(requestId, {
    redirectUri,
    state,
    nonce: query.get('nonce') ?? undefined,
    codeChallenge,
    expiresAt: Date.now() + SIGN_IN_TTL_MS,
  });
  sendPage(res, 200, loginPage(flow, requestId));
}

/** POST /authorize: see AuthorizationCodeFlow.complete. */
function complete(flow: FlowState, res: ServerResponse, form: URLSearchParams): void {
  const { options, authorizations, codes } = flow;
  const requestId = form.get('request') ?? '';
  const pending = authorizations.get(requestId);
  if (!pending || pending.expiresAt <= Date.now()) {
    sendPage(res, 400, loginPage(flow, '', 'no such sign-in request; start again'));
    return;
  }
  if (form.get('action') === 'deny') {
    authorizations.delete(requestId);
    redirectBack(res, pending.redirectUri, pending.state, { error: 'access_denied' });
    return;
  }
  const user = form.get('user') ?? '';
  if (!options.users.includes(user)) {
    sendPage(res, 400, loginPage(flow, requestId, `no demo user named ${JSON.stringify(user)}`));
    return;
  }
  authorizations.delete(requestId);
  const code = randomBytes(32).toString('base64url');
  codes.set(code, {
    user,
    redirectUri: pending.redirectUri,
    nonce: pending.nonce,
    codeChallenge: pending.codeChallenge,
    expiresAt: Date.now() + options.codeTtlSeconds * 1000,
  });
  redirectBack(res, pending.redirectUri, pending.state, { code });
}

/** POST /token: see AuthorizationCodeFlow.redeem. */
async function redeem(flow: FlowState, res: ServerResponse, form: URLSearchParams): Promise<void> {
  const { options, codes } = flow;
  const grant = codes.get(form.get('code') ?? '');
  // A code is redeemed at most once, whatever the outcome (RFC 6749 §4.1.2).
  if (grant) codes.delete(form.get('code') ?? '');
  if (!grant || grant.expiresAt <= Date.now()) {
    oauthError(res, 'invalid_grant', 400, 'unknown, used or expired code');
    return;
  }
  if (form.get('redirect_uri') !== grant.redirectUri) {
    oauthError(res, 'invalid_grant', 400, 'redirect_uri does not match');
    return;
  }
  const verifier = form.get('code_verifier');
  if (verifier === null) {
    oauthError(res, 'invalid_request', 400, 'code_verifier is required');
    return;
  }
  const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  if (!CODE_VERIFIER.test(verifier) || computed !== grant.codeChallenge) {
    oauthError(res, 'invalid_grant', 400, 'code_verifier does not match');
    return;
  }
  send(res, 200, {
    access_token: randomBytes(24).toString('base64url'),
    token_type: 'Bearer',
    expires_in: options.idTokenTtlSeconds,
    id_token: await options.mintIdToken(grant.user, grant.nonce),
  });
}

export function authorizationCodeFlow(options: AuthorizationCodeFlowOptions): AuthorizationCodeFlow {
  const flow: FlowState = { options, authorizations: new Map(), codes: new Map() };
  return {
    authorize: (res, query) => authorize(flow, res, query),
    complete: (res, form) => complete(flow, res, form),
    redeem: (res, form) => redeem(flow, res, form),
  };
}
