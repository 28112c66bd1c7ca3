/**
 * A deliberately small HTTPS client (node:https) for JSON and form posts:
 * OIDC discovery and JWKS in the broker, the device flow and the broker API
 * in the CLI. It trusts only the CA bundle it is given (when given), never
 * follows redirects, and caps response bodies.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AirlockError } from '../errors.js';

/** Largest response body read (1 MiB): discovery documents, JWKS and API answers are small. */
const MAX_RESPONSE_BYTES = 1 << 20;

/** Options of one call. */
export interface HttpsCallOptions {
  readonly method?: 'GET' | 'POST';
  /** PEM CA bundle to trust instead of the system store. */
  readonly ca?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body (sets content-type application/json). */
  readonly json?: unknown;
  /** Form body (application/x-www-form-urlencoded), as OAuth endpoints take. */
  readonly form?: Readonly<Record<string, string>>;
  /** Milliseconds; default 10 000. */
  readonly timeoutMs?: number;
}

/** A response: status and the body parsed as JSON (undefined when it is not JSON). */
export interface HttpsJsonResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  /** Response headers (a redirect's `location` is here; redirects are never followed). */
  readonly headers: IncomingHttpHeaders;
}

/**
 * Calls `url` and reads the whole response. Only `https:` URLs are accepted.
 * Network failures reject with AirlockError `INTERNAL` (the cause kept).
 */
export function httpsCall(url: string, options: HttpsCallOptions = {}): Promise<HttpsJsonResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    return Promise.reject(new AirlockError('USAGE', `not a URL: ${url}`, { cause }));
  }
  if (target.protocol !== 'https:') {
    return Promise.reject(new AirlockError('USAGE', `only https URLs are allowed, not ${url}`));
  }
  let payload: string | undefined;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.json !== undefined) {
    payload = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  } else if (options.form !== undefined) {
    payload = new URLSearchParams(options.form as Record<string, string>).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      target,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`response from ${target.origin} exceeds ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${target.origin} timed out`)));
    req.on('error', (cause) =>
      reject(new AirlockError('INTERNAL', `cannot reach ${target.origin}: ${cause.message}`, { cause })),
    );
    req.end(payload);
  });
}
