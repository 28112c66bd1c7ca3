/**
 * A minimal, real OpenID provider for local use and tests: discovery
 * document (OpenID Connect Discovery 1.0), JWKS, ES256-signed ID tokens
 * (jose), the OAuth 2.0 Device Authorization Grant (RFC 8628) with a
 * password-less "demo login" page on which a configured demo user approves a
 * user code, and the authorization code flow (OpenID Connect Core §3.1) for
 * native apps on loopback (RFC 8252) with mandatory PKCE S256 (RFC 7636).
 *
 * It is a development tool: anyone who can reach the page can sign in as any
 * configured demo user. It listens on loopback by default. The broker verifies
 * its tokens exactly as it verifies a production issuer's (discovery, JWKS,
 * signature, issuer, audience, expiry); nothing in the broker knows it exists.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { AirlockError } from '../../core/errors.js';

/** RFC 8628 §3.4 grant type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 6749 §4.1.3 grant type. */
export const AUTHORIZATION_CODE_GRANT = 'authorization_code';

/** A configured demo user. */
export interface DemoUser {
  readonly groups: readonly string[];
  readonly email?: string;
}

/** Options of {@link startDevOidcProvider}. */
export interface DevOidcProviderOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (an ephemeral port). */
  readonly port?: number;
  /** Serving key and certificate (PEM). OIDC issuers are https URLs. */
  readonly tls: { readonly key: string; readonly cert: string };
  /** The one client (and ID token audience) this provider serves. */
  readonly clientId: string;
  /** Demo users by user name. */
  readonly users: Readonly<Record<string, DemoUser>>;
  /** ID token lifetime; default 3600. */
  readonly idTokenTtlSeconds?: number;
  /** Device code lifetime (RFC 8628 `expires_in`); default 600. */
  readonly deviceCodeTtlSeconds?: number;
  /** Minimum polling interval (RFC 8628 `interval`); default 5. */
  readonly pollIntervalSeconds?: number;
  /**
   * Offer the device grant; default true. False leaves
   * `device_authorization_endpoint` out of discovery (as some providers do),
   * so clients fall back to the authorization code flow.
   */
  readonly deviceFlow?: boolean;
  /** Authorization code lifetime; default 60 (RFC 6749 §4.1.2: short, at most 10 minutes). */
  readonly authorizationCodeTtlSeconds?: number;
  /** Token clock (iat/exp); default the system clock. */
  readonly clock?: () => Date;
}

/** What a test may change in a minted token (to prove the broker refuses it). */
export interface MintOverrides {
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds relative to now; negative for an already expired token. */
  readonly expiresInSeconds?: number;
  readonly groups?: readonly string[];
  /** The `nonce` claim (OpenID Connect Core §2); absent: none. */
  readonly nonce?: string;
  /**
   * The `email_verified` claim of a user with an email (default `true`, as a
   * provider that verified the address says); `null` leaves it out. For tests
   * of IdPs that issue unverified addresses.
   */
  readonly emailVerified?: boolean | string | null;
}

/** A running provider. */
export interface DevOidcProvider {
  /** The issuer URL, `https://host:port`. */
  readonly issuer: string;
  /** `${issuer}/device`, the RFC 8628 verification URI. */
  readonly verificationUri: string;
  /** The public signing key (for tests). */
  readonly jwk: JWK;
  /**
   * Approves a pending device authorization as `user` (a configured demo
   * user), as the demo login page does. Throws USAGE for an unknown code or
   * user.
   */
  approveDeviceCode(userCode: string, user: string): void;
  /** Refuses a pending device authorization (`access_denied` for the client). */
  denyDeviceCode(userCode: string): void;
  /**
   * Signs an ID token for a demo user directly, with this provider's key.
   * For tests only (e.g. a second user, or a token with a wrong audience).
   */
  mintIdToken(user: string, overrides?: MintOverrides): Promise<string>;
  stop(): Promise<void>;
}

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

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL of a SHA-256 hash, 43 characters. */
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

interface DeviceAuthorization {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresAt: number;
  interval: number;
  lastPoll: number;
  approvedUser: string | undefined;
  denied: boolean;
}

/** RFC 8628 §6.1: user codes from a consonant alphabet, easy to type, no vowels to spell words. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Upper-cases and removes the dash so `bcdf-ghjk` and `BCDFGHJK` match. */
function normaliseUserCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z]/g, '');
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** Starts the provider on an HTTPS port. */
export async function startDevOidcProvider(options: DevOidcProviderOptions): Promise<DevOidcProvider> {
  const clock = options.clock ?? (() => new Date());
  const idTokenTtl = options.idTokenTtlSeconds ?? 3600;
  const deviceTtl = options.deviceCodeTtlSeconds ?? 600;
  const interval = options.pollIntervalSeconds ?? 5;
  const deviceFlow = options.deviceFlow ?? true;
  const codeTtl = options.authorizationCodeTtlSeconds ?? 60;
  const authorizations = new Map<string, PendingAuthorization>();
  const codes = new Map<string, AuthorizationCode>();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const byDeviceCode = new Map<string, DeviceAuthorization>();
  const byUserCode = new Map<string, DeviceAuthorization>();
  let issuer = '';

  function findUser(user: string): DemoUser {
    const found = Object.hasOwn(options.users, user) ? options.users[user] : undefined;
    if (!found) throw new AirlockError('USAGE', `no demo user named ${JSON.stringify(user)}`);
    return found;
  }

  async function mintIdToken(user: string, overrides: MintOverrides = {}): Promise<string> {
    const demo = findUser(user);
    const now = Math.floor(clock().getTime() / 1000);
    const claims: JWTPayload = {
      preferred_username: user,
      groups: [...(overrides.groups ?? demo.groups)],
      auth_time: now,
      ...(demo.email === undefined ? {} : { email: demo.email }),
      ...(demo.email === undefined || overrides.emailVerified === null
        ? {}
        : { email_verified: overrides.emailVerified ?? true }),
      ...(overrides.nonce === undefined ? {} : { nonce: overrides.nonce }),
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(overrides.issuer ?? issuer)
      .setSubject(user)
      .setAudience(overrides.audience ?? options.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + (overrides.expiresInSeconds ?? idTokenTtl))
      .setJti(randomBytes(12).toString('hex'))
      .sign(privateKey);
  }

  function pending(userCode: string): DeviceAuthorization {
    const auth = byUserCode.get(normaliseUserCode(userCode));
    if (!auth || auth.expiresAt <= Date.now()) {
      throw new AirlockError('USAGE', `no pending device authorization with user code ${userCode}`);
    }
    return auth;
  }

  function approveDeviceCode(userCode: string, user: string): void {
    findUser(user);
    pending(userCode).approvedUser = user;
  }

  function denyDeviceCode(userCode: string): void {
    pending(userCode).denied = true;
  }

  function send(
    res: import('node:http').ServerResponse,
    status: number,
    body: unknown,
    type = 'application/json',
  ): void {
    const text = type === 'application/json' ? JSON.stringify(body) : String(body);
    res.writeHead(status, {
      'content-type': `${type}; charset=utf-8`,
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function readForm(req: import('node:http').IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 16_384) throw new AirlockError('USAGE', 'request body too large');
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  function oauthError(res: import('node:http').ServerResponse, error: string, status = 400): void {
    send(res, status, { error });
  }

  function devicePage(userCode: string, message = ''): string {
    const users = Object.keys(options.users)
      .map((u) => `<button name="user" value="${escapeHtml(u)}">Sign in as ${escapeHtml(u)}</button>`)
      .join(' ');
    return (
      '<!doctype html><meta charset="utf-8"><title>airlock dev login</title>' +
      `<h1>airlock dev login</h1><p>${escapeHtml(message)}</p>` +
      '<form method="post" action="/device">' +
      `<label>Code <input name="user_code" value="${escapeHtml(userCode)}" autocomplete="off"></label> ` +
      `${users} <button name="action" value="deny">Deny</button></form>`
    );
  }

  function loginPage(requestId: string, message = ''): string {
    const users = Object.keys(options.users)
      .map((u) => `<button name="user" value="${escapeHtml(u)}">Sign in as ${escapeHtml(u)}</button>`)
      .join(' ');
    return (
      '<!doctype html><meta charset="utf-8"><title>airlock dev login</title>' +
      `<h1>airlock dev login</h1><p>${escapeHtml(message)}</p>` +
      '<form method="post" action="/authorize">' +
      `<input type="hidden" name="request" value="${escapeHtml(requestId)}"> ` +
      `${users} <button name="action" value="deny">Deny</button></form>`
    );
  }

  /** RFC 6749 §4.1.2: back to the (already validated) redirect URI with `params` and the state. */
  function redirectBack(
    res: import('node:http').ServerResponse,
    redirectUri: string,
    state: string | undefined,
    params: Record<string, string>,
  ): void {
    const target = new URL(redirectUri);
    for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
    if (state !== undefined) target.searchParams.set('state', state);
    res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
    res.end();
  }

  /** GET /authorize: checks the request (OIDC Core §3.1.2.2) and shows the demo login. */
  function authorize(res: import('node:http').ServerResponse, query: URLSearchParams): void {
    // Until client and redirect URI are checked, errors are shown here, never redirected (no open redirect).
    if (query.get('client_id') !== options.clientId) {
      send(res, 400, loginPage('', 'unknown client_id'), 'text/html');
      return;
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    const problem = loopbackRedirectProblem(redirectUri);
    if (problem) {
      send(res, 400, loginPage('', problem), 'text/html');
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
    for (const [id, old] of authorizations) if (old.expiresAt <= Date.now()) authorizations.delete(id);
    for (const [old, grant] of codes) if (grant.expiresAt <= Date.now()) codes.delete(old);
    authorizations.set(requestId, {
      redirectUri,
      state,
      nonce: query.get('nonce') ?? undefined,
      codeChallenge,
      expiresAt: Date.now() + 600_000,
    });
    send(res, 200, loginPage(requestId), 'text/html');
  }

  /** POST /authorize: the demo user signs in (or denies); back to the client with a code. */
  function completeAuthorization(res: import('node:http').ServerResponse, form: URLSearchParams): void {
    const requestId = form.get('request') ?? '';
    const pendingRequest = authorizations.get(requestId);
    if (!pendingRequest || pendingRequest.expiresAt <= Date.now()) {
      send(res, 400, loginPage('', 'no such sign-in request; start again'), 'text/html');
      return;
    }
    if (form.get('action') === 'deny') {
      authorizations.delete(requestId);
      redirectBack(res, pendingRequest.redirectUri, pendingRequest.state, { error: 'access_denied' });
      return;
    }
    const user = form.get('user') ?? '';
    if (!Object.hasOwn(options.users, user)) {
      send(res, 400, loginPage(requestId, `no demo user named ${JSON.stringify(user)}`), 'text/html');
      return;
    }
    authorizations.delete(requestId);
    const code = randomBytes(32).toString('base64url');
    codes.set(code, {
      user,
      redirectUri: pendingRequest.redirectUri,
      nonce: pendingRequest.nonce,
      codeChallenge: pendingRequest.codeChallenge,
      expiresAt: Date.now() + codeTtl * 1000,
    });
    redirectBack(res, pendingRequest.redirectUri, pendingRequest.state, { code });
  }

  /** POST /token with grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6). */
  async function redeemCode(res: import('node:http').ServerResponse, form: URLSearchParams): Promise<void> {
    const grant = codes.get(form.get('code') ?? '');
    // A code is redeemed at most once, whatever the outcome (RFC 6749 §4.1.2).
    if (grant) codes.delete(form.get('code') ?? '');
    if (!grant || grant.expiresAt <= Date.now()) {
      send(res, 400, { error: 'invalid_grant', error_description: 'unknown, used or expired code' });
      return;
    }
    if (form.get('redirect_uri') !== grant.redirectUri) {
      send(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri does not match' });
      return;
    }
    const verifier = form.get('code_verifier');
    if (verifier === null) {
      send(res, 400, { error: 'invalid_request', error_description: 'code_verifier is required' });
      return;
    }
    const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
    if (!CODE_VERIFIER.test(verifier) || computed !== grant.codeChallenge) {
      send(res, 400, { error: 'invalid_grant', error_description: 'code_verifier does not match' });
      return;
    }
    const idToken = await mintIdToken(grant.user, grant.nonce === undefined ? {} : { nonce: grant.nonce });
    send(res, 200, {
      access_token: randomBytes(24).toString('base64url'),
      token_type: 'Bearer',
      expires_in: idTokenTtl,
      id_token: idToken,
    });
  }

  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      try {
        if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
          send(res, 200, {
            issuer,
            jwks_uri: `${issuer}/jwks`,
            token_endpoint: `${issuer}/token`,
            ...(deviceFlow ? { device_authorization_endpoint: `${issuer}/device_authorization` } : {}),
            authorization_endpoint: `${issuer}/authorize`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
            grant_types_supported: [...(deviceFlow ? [DEVICE_CODE_GRANT] : []), AUTHORIZATION_CODE_GRANT],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['none'],
            claims_supported: [
              'sub',
              'iss',
              'aud',
              'exp',
              'iat',
              'nonce',
              'preferred_username',
              'email',
              'groups',
            ],
          });
          return;
        }
        if (req.method === 'GET' && url.pathname === '/jwks') {
          send(res, 200, { keys: [jwk] });
          return;
        }
        if (req.method === 'GET' && url.pathname === '/authorize') {
          authorize(res, url.searchParams);
          return;
        }
        if (req.method === 'POST' && url.pathname === '/authorize') {
          completeAuthorization(res, await readForm(req));
          return;
        }
        if (req.method === 'POST' && url.pathname === '/device_authorization' && deviceFlow) {
          const form = await readForm(req);
          if (form.get('client_id') !== options.clientId) {
            oauthError(res, 'invalid_client', 401);
            return;
          }
          const auth: DeviceAuthorization = {
            deviceCode: randomBytes(32).toString('base64url'),
            userCode: newUserCode(),
            expiresAt: Date.now() + deviceTtl * 1000,
            interval,
            lastPoll: 0,
            approvedUser: undefined,
            denied: false,
          };
          byDeviceCode.set(auth.deviceCode, auth);
          byUserCode.set(normaliseUserCode(auth.userCode), auth);
          send(res, 200, {
            device_code: auth.deviceCode,
            user_code: auth.userCode,
            verification_uri: `${issuer}/device`,
            verification_uri_complete: `${issuer}/device?user_code=${encodeURIComponent(auth.userCode)}`,
            expires_in: deviceTtl,
            interval,
          });
          return;
        }
        if (req.method === 'POST' && url.pathname === '/token') {
          const form = await readForm(req);
          if (form.get('client_id') !== options.clientId) {
            oauthError(res, 'invalid_client', 401);
            return;
          }
          if (form.get('grant_type') === AUTHORIZATION_CODE_GRANT) {
            await redeemCode(res, form);
            return;
          }
          if (form.get('grant_type') !== DEVICE_CODE_GRANT || !deviceFlow) {
            oauthError(res, 'unsupported_grant_type');
            return;
          }
          const auth = byDeviceCode.get(form.get('device_code') ?? '');
          if (!auth) {
            oauthError(res, 'invalid_grant');
            return;
          }
          const now = Date.now();
          if (auth.expiresAt <= now) {
            oauthError(res, 'expired_token');
            return;
          }
          if (auth.denied) {
            byDeviceCode.delete(auth.deviceCode);
            oauthError(res, 'access_denied');
            return;
          }
          if (auth.approvedUser === undefined) {
            // RFC 8628 §3.5: polling faster than the interval earns slow_down and +5 s.
            const tooFast = now - auth.lastPoll < auth.interval * 1000 - 250;
            auth.lastPoll = now;
            if (tooFast) {
              auth.interval += 5;
              oauthError(res, 'slow_down');
            } else oauthError(res, 'authorization_pending');
            return;
          }
          // A device code is redeemed once.
          byDeviceCode.delete(auth.deviceCode);
          byUserCode.delete(normaliseUserCode(auth.userCode));
          const idToken = await mintIdToken(auth.approvedUser);
          send(res, 200, {
            access_token: randomBytes(24).toString('base64url'),
            token_type: 'Bearer',
            expires_in: idTokenTtl,
            id_token: idToken,
          });
          return;
        }
        if (req.method === 'GET' && url.pathname === '/device') {
          send(res, 200, devicePage(url.searchParams.get('user_code') ?? ''), 'text/html');
          return;
        }
        if (req.method === 'POST' && url.pathname === '/device') {
          const form = await readForm(req);
          const code = form.get('user_code') ?? '';
          try {
            if (form.get('action') === 'deny') {
              denyDeviceCode(code);
              send(res, 200, devicePage('', 'Denied. You can close this window.'), 'text/html');
            } else {
              approveDeviceCode(code, form.get('user') ?? '');
              send(res, 200, devicePage('', 'Signed in. Return to your terminal.'), 'text/html');
            }
          } catch (error) {
            send(res, 400, devicePage(code, (error as Error).message), 'text/html');
          }
          return;
        }
        send(res, 404, { error: 'not_found' });
      } catch (error) {
        send(res, 400, { error: 'invalid_request', error_description: (error as Error).message });
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  issuer = `https://${host}:${address.port}`;

  return {
    issuer,
    verificationUri: `${issuer}/device`,
    jwk,
    approveDeviceCode,
    denyDeviceCode,
    mintIdToken,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
