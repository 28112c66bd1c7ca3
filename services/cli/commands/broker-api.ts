/**
 * The broker's HTTPS JSON API as the client commands call it: a session
 * (broker URL, CA, a current token from the cache) and one call that turns
 * the broker's `{code, message}` refusal into an AirlockError.
 */

import { AirlockError, isErrorCode } from '../../core/errors.js';
import { type HttpsCallOptions, httpsCall } from '../../core/https/https-client.js';
import type { BrokerClientIo, ConnectionOptions } from './broker-client-io.js';
import { readServiceAccountToken } from './service-account-token.js';
import { readCache, readPem } from './token-cache.js';

/** Throws the broker's `{code, message}` as an AirlockError. */
function brokerError(status: number, body: unknown): AirlockError {
  const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && isErrorCode(code)) {
    return new AirlockError(code, typeof message === 'string' ? message : code);
  }
  return new AirlockError('INTERNAL', `broker answered HTTP ${status}`);
}

export interface Session {
  readonly broker: string;
  readonly ca: string | undefined;
  readonly token: string;
  /** From the cached login, when known. */
  readonly user?: string;
}

/** The broker URL, CA and a current token, from the options and the cache. */
export async function session(io: BrokerClientIo, options: ConnectionOptions): Promise<Session> {
  const cache = await readCache(io);
  if (!cache) throw new AirlockError('AUTH_REQUIRED', 'not logged in; run airlock login --broker URL');
  if (cache.tokenFile !== undefined) {
    const { token } = await readServiceAccountToken(cache.tokenFile, io.now());
    return {
      broker: options.broker ?? cache.broker,
      ca: await readPem(options.ca ?? cache.ca),
      token,
      ...(cache.user === undefined ? {} : { user: cache.user }),
    };
  }
  if (Date.parse(cache.expiresAt) <= io.now().getTime()) {
    throw new AirlockError('AUTH_EXPIRED', 'the cached login has expired; run airlock login');
  }
  const broker = options.broker ?? cache.broker;
  return {
    broker,
    ca: await readPem(options.ca ?? cache.ca),
    token: cache.idToken,
    ...(cache.user === undefined ? {} : { user: cache.user }),
  };
}

export async function call(
  s: Session,
  method: 'GET' | 'POST',
  path: string,
  json?: unknown,
): Promise<unknown> {
  const init: HttpsCallOptions = {
    method,
    ca: s.ca,
    headers: { authorization: `Bearer ${s.token}` },
    ...(json === undefined ? {} : { json }),
  };
  const response = await httpsCall(`${s.broker.replace(/\/$/, '')}${path}`, init);
  if (response.status >= 400) throw brokerError(response.status, response.body);
  return response.body;
}
