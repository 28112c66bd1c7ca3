/**
 * Who is calling the broker.
 *
 * People present an OIDC ID token. It is verified against the issuer found
 * by OpenID Connect Discovery 1.0 (`/.well-known/openid-configuration`, whose
 * `issuer` must equal the configured one exactly, §4.3) and the keys of its
 * `jwks_uri`, with jose: signature, `iss`, `aud`, `exp` (and `nbf`/`iat`
 * sanity). The groups claim is mapped to airlock groups by configuration.
 *
 * Machines (runbooks) present a Kubernetes ServiceAccount token, verified by
 * the API server with a TokenReview; the identity is the ServiceAccount's user
 * name with kind `machine`, and its airlock groups come from configuration.
 */
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  createLocalJWKSet,
  decodeJwt,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { AirlockError } from '../core/errors.js';
import { httpsCall } from '../core/https/https-client.js';
import type { Requester } from '../core/policy/index.js';

/** An authenticated caller. */
export interface Identity extends Requester {
  /** How the caller proved who they are. */
  readonly via: 'oidc' | 'tokenreview';
}

/** Configuration of OIDC verification. */
export interface OidcSettings {
  /** Exact issuer URL (https). */
  readonly issuer: string;
  /** The broker's client id; ID tokens must name it in `aud`. */
  readonly audience: string;
  /** Claim holding the user name, e.g. `preferred_username` or `email`. */
  readonly usernameClaim: string;
  /**
   * Boolean claim that must be `true` (the JSON literal, not the string) for
   * the user name to be accepted, e.g. `email_verified` for `email`
   * (OpenID Connect Core §5.1); undefined: none is checked. Without it, an
   * IdP that lets users type an unverified address would let them sign in
   * as anyone. Resolved from the configuration by `usernameVerifiedClaim`.
   */
  readonly usernameVerifiedClaim?: string | undefined;
  /** Claim holding the IdP groups (an array of strings). */
  readonly groupsClaim: string;
  /** IdP group → airlock groups. */
  readonly groupMapping: Readonly<Record<string, readonly string[]>>;
  /** Keep IdP groups that have no mapping under their own name. */
  readonly passThroughGroups: boolean;
  /** PEM CA bundle for the issuer's TLS (default: system store). */
  readonly caPem?: string | undefined;
  /** Accepted clock skew for exp/nbf; default 30. */
  readonly clockToleranceSeconds?: number;
}

const ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];
/** Minimum time between two JWKS refreshes triggered by an unknown `kid`. */
const JWKS_REFRESH_MS = 30_000;

function invalid(message: string, detail?: string, cause?: unknown): AirlockError {
  return new AirlockError('AUTH_INVALID', message, { detail, cause });
}

/** Verifies OIDC ID tokens of one issuer. */
export interface OidcVerifier {
  verify(token: string): Promise<Identity>;
}

/**
 * OpenID Connect Discovery 1.0: the issuer's `jwks_uri`, refused (INTERNAL)
 * when discovery fails or names another issuer (§4.3).
 */
async function discoverJwksUri(settings: Pick<OidcSettings, 'issuer' | 'caPem'>): Promise<string> {
  const discovery = await httpsCall(
    `${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    {
      ca: settings.caPem,
    },
  );
  const doc = discovery.body as { issuer?: unknown; jwks_uri?: unknown } | undefined;
  if (discovery.status !== 200 || typeof doc?.jwks_uri !== 'string') {
    throw new AirlockError('INTERNAL', 'OIDC discovery failed', {
      detail: `HTTP ${discovery.status} from ${settings.issuer}`,
    });
  }
  if (doc.issuer !== settings.issuer) {
    throw new AirlockError('INTERNAL', 'OIDC discovery names another issuer', {
      detail: `expected ${settings.issuer}, got ${String(doc.issuer)}`,
    });
  }
  return doc.jwks_uri;
}

/** Fetches the issuer's key set (INTERNAL when it cannot). */
async function fetchJwks(jwksUri: string, caPem: string | undefined): Promise<JWTVerifyGetKey> {
  const response = await httpsCall(jwksUri, { ca: caPem });
  const set = response.body as JSONWebKeySet | undefined;
  if (response.status !== 200 || !Array.isArray(set?.keys)) {
    throw new AirlockError('INTERNAL', 'cannot fetch the OIDC JWKS', {
      detail: `HTTP ${response.status} from ${jwksUri}`,
    });
  }
  return createLocalJWKSet(set);
}

/** A failed token verification as the caller sees it: AUTH_EXPIRED or AUTH_INVALID (an AirlockError stays). */
function tokenRefusal(error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  if (error instanceof joseErrors.JWTExpired) {
    return new AirlockError('AUTH_EXPIRED', 'the ID token has expired; run airlock login', {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return invalid(`the ID token's ${error.claim} claim is not accepted`, error.message, error);
  }
  if (
    error instanceof joseErrors.JWKSNoMatchingKey ||
    error instanceof joseErrors.JWSSignatureVerificationFailed
  ) {
    return invalid('the ID token is not signed by the trusted issuer', (error as Error).message, error);
  }
  return invalid('the ID token is not valid', (error as Error).message, error);
}

/**
 * The identity of a verified token's claims: the user name (AUTH_INVALID
 * when missing; AUTH_UNVERIFIED when `usernameVerifiedClaim` is not `true`)
 * and the mapped groups (AUTH_INVALID unless a list of strings).
 */
function identityFromClaims(claims: JWTPayload, settings: OidcSettings): Identity {
  const user = claims[settings.usernameClaim];
  if (typeof user !== 'string' || user === '') {
    throw invalid(`the ID token has no ${settings.usernameClaim} claim`);
  }
  const verified = settings.usernameVerifiedClaim;
  if (verified !== undefined && claims[verified] !== true) {
    throw new AirlockError(
      'AUTH_UNVERIFIED',
      `the identity provider has not verified your ${settings.usernameClaim} (${verified} is not true)`,
      {
        detail:
          `sub ${JSON.stringify(claims.sub)}, ${settings.usernameClaim} ${JSON.stringify(user)}, ` +
          `${verified} ${JSON.stringify(claims[verified] ?? null)}`,
      },
    );
  }
  const raw = claims[settings.groupsClaim] ?? [];
  if (!Array.isArray(raw) || raw.some((g) => typeof g !== 'string')) {
    throw invalid(`the ID token's ${settings.groupsClaim} claim is not a list of strings`);
  }
  return { user, groups: mapGroups(raw as string[], settings), kind: 'human', via: 'oidc' };
}

/**
 * Creates a verifier that fetches discovery and JWKS lazily (first use) and
 * refetches the JWKS, at most every 30 s, when a token names an unknown key.
 */
export function createOidcVerifier(settings: OidcSettings, clock: () => Date): OidcVerifier {
  let keys: { getKey: JWTVerifyGetKey; fetchedAt: number } | undefined;
  let jwksUri: string | undefined;

  async function fetchKeys(): Promise<JWTVerifyGetKey> {
    jwksUri ??= await discoverJwksUri(settings);
    const getKey = await fetchJwks(jwksUri, settings.caPem);
    keys = { getKey, fetchedAt: Date.now() };
    return getKey;
  }

  async function verifyWith(getKey: JWTVerifyGetKey, token: string) {
    return jwtVerify(token, getKey, {
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms: ALLOWED_ALGORITHMS,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: settings.clockToleranceSeconds ?? 30,
      currentDate: clock(),
    });
  }

  return {
    async verify(token: string): Promise<Identity> {
      let result: Awaited<ReturnType<typeof verifyWith>>;
      try {
        const getKey = keys?.getKey ?? (await fetchKeys());
        try {
          result = await verifyWith(getKey, token);
        } catch (error) {
          // Key rotation: an unknown kid triggers one (rate-limited) refetch.
          if (
            error instanceof joseErrors.JWKSNoMatchingKey &&
            Date.now() - (keys?.fetchedAt ?? 0) > JWKS_REFRESH_MS
          ) {
            result = await verifyWith(await fetchKeys(), token);
          } else throw error;
        }
      } catch (error) {
        throw tokenRefusal(error);
      }
      return identityFromClaims(result.payload, settings);
    },
  };
}

/** Maps IdP groups to airlock groups (deduplicated, in order of first appearance). */
export function mapGroups(
  idpGroups: readonly string[],
  settings: Pick<OidcSettings, 'groupMapping' | 'passThroughGroups'>,
): string[] {
  const out: string[] = [];
  for (const g of idpGroups) {
    const mapped = Object.hasOwn(settings.groupMapping, g) ? settings.groupMapping[g] : undefined;
    for (const a of mapped ?? (settings.passThroughGroups ? [g] : [])) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/** The answer of a TokenReview (authentication.k8s.io/v1). */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly username?: string;
  readonly groups?: readonly string[];
  readonly error?: string;
}

/**
 * Port: asks the Kubernetes API server whether a bearer token is valid.
 * Rejects only when the API server cannot be asked; an invalid token resolves
 * with `authenticated: false`.
 */
export interface TokenReviewer {
  review(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
}

/** The real TokenReviewer: `AuthenticationV1Api.createTokenReview`. */
export function createKubernetesTokenReviewer(kubeConfig: KubeConfig): TokenReviewer {
  const api = kubeConfig.makeApiClient(AuthenticationV1Api);
  return {
    async review(token, audiences) {
      const review = await api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences.length > 0 ? { audiences: [...audiences] } : {}) },
        },
      });
      const status = review.status ?? {};
      return {
        authenticated: status.authenticated === true,
        ...(status.user?.username === undefined ? {} : { username: status.user.username }),
        ...(status.user?.groups === undefined ? {} : { groups: status.user.groups }),
        ...(status.error === undefined ? {} : { error: status.error }),
      };
    },
  };
}

/** In-memory TokenReviewer for unit tests: tokens registered with `add` are valid. */
export class InMemoryTokenReviewer implements TokenReviewer {
  private readonly tokens = new Map<string, { username: string; groups: string[]; audiences: string[] }>();

  add(token: string, username: string, groups: string[] = [], audiences: string[] = []): void {
    this.tokens.set(token, { username, groups, audiences });
  }

  async review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    const found = this.tokens.get(token);
    if (!found) return { authenticated: false, error: 'token not found' };
    if (audiences.length > 0 && !audiences.some((a) => found.audiences.includes(a))) {
      return { authenticated: false, error: 'token audiences do not match' };
    }
    return { authenticated: true, username: found.username, groups: found.groups };
  }
}

/** Configuration of machine authentication. */
export interface MachineSettings {
  readonly reviewer: TokenReviewer;
  /** Audiences the ServiceAccount token must carry (TokenReview `spec.audiences`); may be empty. */
  readonly audiences: readonly string[];
  /** ServiceAccount user name → airlock groups. Unlisted ServiceAccounts are refused. */
  readonly machineGroups: Readonly<Record<string, readonly string[]>>;
}

/** Authenticates the bearer token of a request. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Identity>;
}

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$/;

/**
 * Routes a bearer token by its (unverified) `iss`: the configured OIDC issuer
 * goes to the OIDC verifier, anything else to TokenReview when machines are
 * configured. The routing decides only who verifies; both paths verify fully.
 */
export function createAuthenticator(
  oidc: OidcVerifier,
  oidcIssuer: string,
  machines?: MachineSettings,
): Authenticator {
  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization === '') {
        throw new AirlockError(
          'AUTH_REQUIRED',
          'authentication required: send Authorization: Bearer <token>',
        );
      }
      const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization);
      if (!match) throw invalid('the Authorization header is not a bearer token');
      const token = match[1] ?? '';
      let issuer: unknown;
      try {
        issuer = decodeJwt(token).iss;
      } catch (cause) {
        throw invalid('the bearer token is not a JWT', undefined, cause);
      }
      if (issuer === oidcIssuer || machines === undefined) return oidc.verify(token);
      let result: TokenReviewResult;
      try {
        result = await machines.reviewer.review(token, machines.audiences);
      } catch (cause) {
        throw new AirlockError('INTERNAL', 'cannot verify the token with the Kubernetes API', { cause });
      }
      if (!result.authenticated || result.username === undefined) {
        throw invalid('the token was not accepted', `TokenReview: ${result.error ?? 'not authenticated'}`);
      }
      if (!SERVICE_ACCOUNT_USER.test(result.username)) {
        throw invalid('only ServiceAccount tokens are accepted from machines', `user ${result.username}`);
      }
      const groups = Object.hasOwn(machines.machineGroups, result.username)
        ? machines.machineGroups[result.username]
        : undefined;
      if (groups === undefined) {
        throw invalid('this ServiceAccount is not configured for airlock', `user ${result.username}`);
      }
      return { user: result.username, groups: [...groups], kind: 'machine', via: 'tokenreview' };
    },
  };
}
