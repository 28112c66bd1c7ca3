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
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { AirlockError } from '../../core/errors.js';
import { closeServer } from '../../core/service/https-listen.js';
import { type AuthorizationCodeFlow, authorizationCodeFlow } from './oidc/authorization-code-flow.js';
import { type DeviceFlow, deviceFlow } from './oidc/device-flow.js';
import { oauthError, readForm, send } from './oidc/oidc-http.js';

export { loopbackRedirectProblem } from './oidc/authorization-code-flow.js';

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

/** The discovery document (OpenID Connect Discovery 1.0 §3). */
function discovery(issuer: string, withDeviceFlow: boolean): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/jwks`,
    token_endpoint: `${issuer}/token`,
    ...(withDeviceFlow ? { device_authorization_endpoint: `${issuer}/device_authorization` } : {}),
    authorization_endpoint: `${issuer}/authorize`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    grant_types_supported: [...(withDeviceFlow ? [DEVICE_CODE_GRANT] : []), AUTHORIZATION_CODE_GRANT],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'preferred_username', 'email', 'groups'],
  };
}

/** The provider's endpoints, by method and path. */
interface Endpoints {
  readonly clientId: string;
  readonly issuer: () => string;
  readonly jwk: JWK;
  readonly code: AuthorizationCodeFlow;
  readonly device: DeviceFlow | undefined;
}

async function route(endpoints: Endpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { code, device } = endpoints;
  const url = new URL(req.url ?? '/', endpoints.issuer());
  const at = `${req.method} ${url.pathname}`;
  if (at === 'GET /.well-known/openid-configuration') send(res, 200, discovery(endpoints.issuer(), !!device));
  else if (at === 'GET /jwks') send(res, 200, { keys: [endpoints.jwk] });
  else if (at === 'GET /authorize') code.authorize(res, url.searchParams);
  else if (at === 'POST /authorize') code.complete(res, await readForm(req));
  else if (at === 'POST /device_authorization' && device) {
    const form = await readForm(req);
    if (form.get('client_id') !== endpoints.clientId) oauthError(res, 'invalid_client', 401);
    else device.start(res);
  } else if (at === 'POST /token') {
    const form = await readForm(req);
    const grant = form.get('grant_type');
    if (form.get('client_id') !== endpoints.clientId) oauthError(res, 'invalid_client', 401);
    else if (grant === AUTHORIZATION_CODE_GRANT) await code.redeem(res, form);
    else if (grant === DEVICE_CODE_GRANT && device) await device.poll(res, form);
    else oauthError(res, 'unsupported_grant_type');
  } else if (at === 'GET /device' && device) device.page(res, url.searchParams);
  else if (at === 'POST /device' && device) device.submit(res, await readForm(req));
  else send(res, 404, { error: 'not_found' });
}

/** What signing a demo user's ID token needs. */
interface IdTokenSigner {
  readonly users: Readonly<Record<string, DemoUser>>;
  readonly clientId: string;
  readonly clock: () => Date;
  readonly idTokenTtlSeconds: number;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** The provider's issuer URL, known once it listens. */
  readonly issuer: () => string;
}

/** Signs an ID token for a configured demo user; USAGE for anyone else. */
async function signDemoIdToken(
  signer: IdTokenSigner,
  user: string,
  overrides: MintOverrides = {},
): Promise<string> {
  const demo = Object.hasOwn(signer.users, user) ? signer.users[user] : undefined;
  if (!demo) throw new AirlockError('USAGE', `no demo user named ${JSON.stringify(user)}`);
  const now = Math.floor(signer.clock().getTime() / 1000);
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
    .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'JWT' })
    .setIssuer(overrides.issuer ?? signer.issuer())
    .setSubject(user)
    .setAudience(overrides.audience ?? signer.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + (overrides.expiresInSeconds ?? signer.idTokenTtlSeconds))
    .setJti(randomBytes(12).toString('hex'))
    .sign(signer.privateKey);
}

function listenHttps(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** Starts the provider on an HTTPS port. */
export async function startDevOidcProvider(options: DevOidcProviderOptions): Promise<DevOidcProvider> {
  const clock = options.clock ?? (() => new Date());
  const idTokenTtlSeconds = options.idTokenTtlSeconds ?? 3600;
  const users = Object.keys(options.users);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  let issuer = '';

  const signer: IdTokenSigner = {
    users: options.users,
    clientId: options.clientId,
    clock,
    idTokenTtlSeconds,
    kid,
    privateKey,
    issuer: () => issuer,
  };
  const mintIdToken = (user: string, overrides?: MintOverrides) => signDemoIdToken(signer, user, overrides);

  const device = deviceFlow({
    users,
    deviceCodeTtlSeconds: options.deviceCodeTtlSeconds ?? 600,
    pollIntervalSeconds: options.pollIntervalSeconds ?? 5,
    idTokenTtlSeconds,
    issuer: () => issuer,
    mintIdToken: (user) => mintIdToken(user),
  });
  const endpoints: Endpoints = {
    clientId: options.clientId,
    issuer: () => issuer,
    jwk,
    code: authorizationCodeFlow({
      clientId: options.clientId,
      users,
      codeTtlSeconds: options.authorizationCodeTtlSeconds ?? 60,
      idTokenTtlSeconds,
      mintIdToken: (user, nonce) => mintIdToken(user, nonce === undefined ? {} : { nonce }),
    }),
    device: (options.deviceFlow ?? true) ? device : undefined,
  };

  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    route(endpoints, req, res).catch((error: unknown) => {
      send(res, 400, { error: 'invalid_request', error_description: (error as Error).message });
    });
  });
  await listenHttps(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  issuer = `https://${host}:${address.port}`;

  return {
    issuer,
    verificationUri: `${issuer}/device`,
    jwk,
    approveDeviceCode: device.approve,
    denyDeviceCode: device.deny,
    mintIdToken,
    stop: () => closeServer(server),
  };
}
