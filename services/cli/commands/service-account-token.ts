/**
 * `airlock login --service-account-token FILE`: a machine identity (a
 * runbook's Kubernetes ServiceAccount) signs in with its token, which the
 * broker checks by TokenReview (services/broker/identity.ts).
 *
 * The file is what the kubelet projects into a pod
 * (`serviceAccountToken` volume source) or what `kubectl create token
 * --audience airlock-broker` printed. A projected token is rotated in place,
 * so the login remembers the file and every later command reads it again;
 * the token itself is never copied into the token cache.
 *
 * The token is not verified here: only the broker can (TokenReview). Its
 * `exp` is read to tell an expired token from a broker refusal.
 */
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { AirlockError } from '../../core/errors.js';

/** A token read from its file: the bearer value and when it says it expires. */
export interface ServiceAccountToken {
  readonly token: string;
  /** RFC 3339, from the JWT's `exp`; undefined for a token without one (a legacy Secret token). */
  readonly expiresAt?: string;
  readonly issuer?: string;
}

/** A JWT's characters only (the broker's bearer syntax): no spaces, no newlines inside. */
const BEARER = /^[A-Za-z0-9._~+/=-]+$/;

/**
 * Reads and checks the token file: one JWT (surrounding whitespace
 * ignored), not expired at `now`. Refuses with `AUTH_INVALID` /
 * `AUTH_EXPIRED`, and `USAGE` when the file cannot be read.
 */
export async function readServiceAccountToken(path: string, now: Date): Promise<ServiceAccountToken> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError('USAGE', `cannot read the token file ${path}: ${(error as Error).message}`);
  }
  const token = text.trim();
  let claims: { exp?: unknown; iss?: unknown };
  try {
    if (!BEARER.test(token)) throw new Error('not one token');
    claims = decodeJwt(token);
  } catch {
    throw new AirlockError('AUTH_INVALID', `${path} does not hold a ServiceAccount token (a JWT)`);
  }
  const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
  if (exp !== undefined && exp * 1000 <= now.getTime()) {
    throw new AirlockError(
      'AUTH_EXPIRED',
      `the token in ${path} expired at ${new Date(exp * 1000).toISOString()}; write a fresh one (kubectl create token)`,
    );
  }
  return {
    token,
    ...(exp === undefined ? {} : { expiresAt: new Date(exp * 1000).toISOString() }),
    ...(typeof claims.iss === 'string' ? { issuer: claims.iss } : {}),
  };
}
