/**
 * `airlock login --flow auth-code`: the OpenID Connect authorization code
 * flow for a native app (RFC 8252), for identity providers without the
 * device grant. A one-shot HTTP listener on 127.0.0.1 and an ephemeral port
 * receives the redirect (RFC 8252 §7.3); PKCE S256 (RFC 7636) binds the code
 * to this process; `state` ties the redirect to this login (RFC 6749
 * §10.12); `nonce` ties the ID token to it (OIDC Core §3.1.2.1). The ID
 * token is verified here (signature against the issuer's JWKS, issuer,
 * audience, expiry, nonce) before it is cached; the broker verifies it again
 * on every call.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { AirlockError } from '../../core/errors.js';
import { httpsCall } from '../../core/https/https-client.js';

/** Signature algorithms accepted on ID tokens; `none` and HMAC never. */
const ID_TOKEN_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

/** The parts of the provider's discovery document a login uses. */
export interface ProviderEndpoints {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly authorizationEndpoint?: string;
  readonly deviceAuthorizationEndpoint?: string;
}

/**
 * Reads `<issuer>/.well-known/openid-configuration`. Its `issuer` must be
 * the one the broker named, exactly (OIDC Discovery §4.3).
 */
export async function discoverProvider(issuer: string, ca: string | undefined): Promise<ProviderEndpoints> {
  const response = await httpsCall(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { ca });
  const doc = (response.body ?? {}) as Record<string, unknown>;
  const text = (name: string) => (typeof doc[name] === 'string' ? (doc[name] as string) : undefined);
  const jwksUri = text('jwks_uri');
  const tokenEndpoint = text('token_endpoint');
  if (response.status !== 200 || text('issuer') !== issuer || !jwksUri || !tokenEndpoint) {
    throw new AirlockError(
      'AUTH_INVALID',
      `${issuer} has no usable discovery document (HTTP ${response.status}; issuer, jwks_uri and token_endpoint are required)`,
    );
  }
  const authorizationEndpoint = text('authorization_endpoint');
  const deviceAuthorizationEndpoint = text('device_authorization_endpoint');
  return {
    issuer,
    jwksUri,
    tokenEndpoint,
    ...(authorizationEndpoint ? { authorizationEndpoint } : {}),
    ...(deviceAuthorizationEndpoint ? { deviceAuthorizationEndpoint } : {}),
  };
}

/**
 * Verifies an ID token from the provider: signature against its JWKS,
 * `iss`, `aud` = the client id, `exp`/`iat`, and `nonce` when the login sent
 * one. Throws AUTH_INVALID (AUTH_EXPIRED for an expired token).
 */
export async function verifyLoginIdToken(
  idToken: string,
  expected: { issuer: string; clientId: string; jwks: JSONWebKeySet; nonce?: string; now: Date },
): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, createLocalJWKSet(expected.jwks), {
      issuer: expected.issuer,
      audience: expected.clientId,
      algorithms: ID_TOKEN_ALGORITHMS,
      requiredClaims: ['sub', 'iat', 'exp', ...(expected.nonce === undefined ? [] : ['nonce'])],
      currentDate: expected.now,
      clockTolerance: 30,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      throw new AirlockError('AUTH_EXPIRED', 'the identity provider returned an expired ID token');
    }
    throw new AirlockError('AUTH_INVALID', `the ID token is not valid: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (expected.nonce !== undefined && !sameSecret(String(payload.nonce), expected.nonce)) {
    throw new AirlockError('AUTH_INVALID', 'the ID token nonce does not match this login');
  }
  return payload;
}

/** Fetches the provider's JWKS. */
export async function fetchJwks(jwksUri: string, ca: string | undefined): Promise<JSONWebKeySet> {
  const response = await httpsCall(jwksUri, { ca });
  const body = response.body as { keys?: unknown } | undefined;
  if (response.status !== 200 || !Array.isArray(body?.keys)) {
    throw new AirlockError(
      'AUTH_INVALID',
      `cannot read the provider's signing keys (HTTP ${response.status})`,
    );
  }
  return body as JSONWebKeySet;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const random = () => randomBytes(32).toString('base64url');

/** What the flow needs from its caller. */
export interface AuthCodeLoginOptions {
  readonly provider: ProviderEndpoints;
  readonly clientId: string;
  /** PEM bundle for the provider's TLS; undefined: the system store. */
  readonly ca: string | undefined;
  /** Tells the person what to open (stderr). */
  readonly tell: (text: string) => void;
  /** Opens the URL in a browser, when the person asked for it. */
  readonly openBrowser?: (url: string) => void;
  readonly now: () => Date;
  /** How long to wait for the browser; default 300 s. */
  readonly timeoutMs?: number;
}

function page(res: ServerResponse, status: number, message: string): void {
  const html = `<!doctype html><meta charset="utf-8"><title>airlock login</title><p>${message}</p>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

/**
 * Checks the redirect the browser brought back: the `state` of this login
 * and no `error`. Returns its authorization code.
 */
function codeFromRedirect(params: URLSearchParams, state: string): string {
  if (!sameSecret(params.get('state') ?? '', state)) {
    throw new AirlockError(
      'AUTH_INVALID',
      'the sign-in redirect has the wrong state; run airlock login again',
    );
  }
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    throw new AirlockError(
      'AUTH_INVALID',
      `sign-in failed: ${error}${description ? ` (${description})` : ''}`,
    );
  }
  const code = params.get('code');
  if (!code) throw new AirlockError('AUTH_INVALID', 'the sign-in redirect carries no code');
  return code;
}

/** What redeeming an authorization code needs besides the code. */
interface CodeRedemption {
  readonly provider: ProviderEndpoints;
  readonly clientId: string;
  readonly ca: string | undefined;
  readonly redirectUri: string;
  /** The PKCE verifier of this login's code challenge. */
  readonly codeVerifier: string;
  /** The nonce the ID token must carry. */
  readonly nonce: string;
  readonly now: () => Date;
}

/** Trades the code for an ID token at the token endpoint; returns the token once verified. */
async function redeemCode(code: string, login: CodeRedemption): Promise<string> {
  const { provider, clientId, ca } = login;
  const token = await httpsCall(provider.tokenEndpoint, {
    ca,
    form: {
      grant_type: 'authorization_code',
      code,
      redirect_uri: login.redirectUri,
      client_id: clientId,
      code_verifier: login.codeVerifier,
    },
  });
  const body = (token.body ?? {}) as {
    id_token?: unknown;
    error?: unknown;
    error_description?: unknown;
  };
  if (token.status !== 200 || typeof body.id_token !== 'string') {
    throw new AirlockError(
      'AUTH_INVALID',
      `the identity provider refused the code: ${String(body.error ?? `HTTP ${token.status}`)}` +
        (typeof body.error_description === 'string' ? ` (${body.error_description})` : ''),
    );
  }
  const jwks = await fetchJwks(provider.jwksUri, ca);
  await verifyLoginIdToken(body.id_token, {
    issuer: provider.issuer,
    clientId,
    jwks,
    nonce: login.nonce,
    now: login.now(),
  });
  return body.id_token;
}

/** The authorization request the browser opens (PKCE S256, state and nonce). */
function authorizationUrl(
  endpoint: string,
  request: { clientId: string; redirectUri: string; state: string; nonce: string; codeChallenge: string },
): URL {
  const url = new URL(endpoint);
  for (const [key, value] of Object.entries({
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    scope: 'openid profile email groups',
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
  })) {
    url.searchParams.set(key, value);
  }
  return url;
}

function listenOnLoopback(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

function closeCallbackServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Let the browser's answer page flush; cut what is still open after a second.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}

/**
 * Runs the flow and returns the verified ID token. The listener accepts one
 * redirect to `/callback`; a redirect with the wrong `state` ends the login
 * with AUTH_INVALID (it is either a stale tab or a forged request, and the
 * code in it must not be redeemed).
 */
export async function authCodeLogin(options: AuthCodeLoginOptions): Promise<string> {
  const { provider, clientId, ca } = options;
  if (!provider.authorizationEndpoint) {
    throw new AirlockError('AUTH_INVALID', `${provider.issuer} offers no authorization endpoint`);
  }
  const state = random();
  const nonce = random();
  // RFC 7636 §4.1: 32 random octets, base64url: 43 characters.
  const codeVerifier = random();
  const codeChallenge = createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');

  let settle: { resolve(token: string): void; reject(error: unknown): void } | undefined;
  const done = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let handled = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback' || handled) {
      page(res, 404, 'Not found.');
      return;
    }
    handled = true;
    void (async () => {
      try {
        const code = codeFromRedirect(url.searchParams, state);
        const redemption = { provider, clientId, ca, redirectUri, codeVerifier, nonce, now: options.now };
        const idToken = await redeemCode(code, redemption);
        page(res, 200, 'Signed in. You can close this window and return to your terminal.');
        settle?.resolve(idToken);
      } catch (error) {
        page(res, 400, 'Sign-in failed. See your terminal.');
        settle?.reject(error);
      }
    })();
  });
  await listenOnLoopback(server);
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const authorizeUrl = authorizationUrl(provider.authorizationEndpoint, {
    clientId,
    redirectUri,
    state,
    nonce,
    codeChallenge,
  });
  options.tell(`To sign in, open ${authorizeUrl.toString()}\n`);
  options.openBrowser?.(authorizeUrl.toString());
  const timeoutMs = options.timeoutMs ?? 300_000;
  const timer = setTimeout(
    () =>
      settle?.reject(
        new AirlockError('AUTH_EXPIRED', `sign-in did not complete within ${Math.round(timeoutMs / 1000)} s`),
      ),
    timeoutMs,
  );
  try {
    return await done;
  } finally {
    clearTimeout(timer);
    await closeCallbackServer(server);
  }
}
