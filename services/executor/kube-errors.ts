/**
 * Kubernetes API failures as airlock errors: an unreachable API server is
 * KUBERNETES_UNAVAILABLE, a 403 for the impersonated user RBAC_DENIED or
 * KUBERNETES_FORBIDDEN, and so on, each with a readable reason.
 */
import { ApiException } from '@kubernetes/client-node';
import { AirlockError } from '../core/errors.js';
import type { KubeCaller } from './kube-types.js';

/**
 * The HTTP status of a failed Kubernetes call: generated clients throw
 * ApiException; the WebSocket upgrade (exec, port-forward) fails with
 * "Unexpected server response: 403"; the log stream throws with statusCode.
 */
function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') return statusCode;
  // The WebSocket rejects with an ErrorEvent (not an Error) carrying `message`.
  const message = (error as { message?: unknown } | null)?.message;
  const match = /Unexpected server response: (\d{3})/.exec(
    typeof message === 'string' ? message : String(error),
  );
  return match ? Number(match[1]) : undefined;
}

/** Socket-level failures: the API server is down, restarting or unreachable. */
const CONNECTION_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * True when `error` (or an error it wraps) says the API server could not be
 * reached or the connection broke, rather than that the API answered with
 * an error. Node errors carry `code`; the WebSocket's ErrorEvent wraps one
 * in `error`; ws reports a handshake timeout only as a message.
 */
export function isConnectionFailure(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_FAILURE_CODES.has(code)) return true;
    if (typeof message === 'string' && /socket hang up|handshake has timed out/i.test(message)) return true;
    e = (e as { cause?: unknown; error?: unknown }).cause ?? (e as { error?: unknown }).error;
  }
  return false;
}

/** The Kubernetes API could not be reached for `what`. */
export function kubeUnavailable(what: string, cause?: unknown): AirlockError {
  return new AirlockError('KUBERNETES_UNAVAILABLE', `the Kubernetes API is unavailable: cannot ${what}`, {
    detail: cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause),
    cause,
  });
}

/** A stream's connection to the API server broke before the stream ended. */
export function connectionLost(what: string): AirlockError {
  return new AirlockError(
    'KUBERNETES_UNAVAILABLE',
    `the connection to the Kubernetes API was lost during ${what}`,
  );
}

/** Turns a Kubernetes API failure into an airlock error with a readable reason. */
export function kubeError(error: unknown, as: KubeCaller, what: string): AirlockError {
  if (error instanceof AirlockError) return error;
  if (isConnectionFailure(error)) return kubeUnavailable(what, error);
  const status = httpStatusOf(error);
  if (status === 403) {
    return new AirlockError(
      'RBAC_DENIED',
      `user ${as.user} (groups ${as.groups.join(', ') || 'none'}) cannot ${what}`,
      { cause: error },
    );
  }
  if (status === 404) return new AirlockError('KUBERNETES_NOT_FOUND', `not found: ${what}`, { cause: error });
  return new AirlockError('KUBERNETES_ERROR', `the Kubernetes API failed to ${what}`, {
    detail: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}
