/** HTTP plumbing of the dev OpenID provider: JSON/HTML replies, form bodies, redirects, the sign-in page. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AirlockError } from '../../../core/errors.js';

/** Writes `body` (JSON unless `type` says otherwise), never cached. */
export function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An HTML page reply. */
export function sendPage(res: ServerResponse, status: number, html: string): void {
  send(res, status, html, 'text/html');
}

/** An OAuth 2.0 error reply (RFC 6749 §5.2). */
export function oauthError(res: ServerResponse, error: string, status = 400, description?: string): void {
  send(res, status, description === undefined ? { error } : { error, error_description: description });
}

/** An `application/x-www-form-urlencoded` body of at most 16 KiB. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16_384) throw new AirlockError('USAGE', 'request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** RFC 6749 §4.1.2: back to the (already validated) redirect URI with `params` and the state. */
export function redirectBack(
  res: ServerResponse,
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

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/**
 * The password-less demo login page: one "Sign in as" button per demo user
 * and a Deny button, posting `hidden` fields and `fields` to `action`.
 */
export function signInPage(options: {
  readonly action: string;
  readonly users: readonly string[];
  readonly message?: string;
  readonly hidden?: Readonly<Record<string, string>>;
  readonly userCode?: string;
}): string {
  const buttons = options.users
    .map((u) => `<button name="user" value="${escapeHtml(u)}">Sign in as ${escapeHtml(u)}</button>`)
    .join(' ');
  const hidden = Object.entries(options.hidden ?? {})
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}"> `)
    .join('');
  const code =
    options.userCode === undefined
      ? ''
      : `<label>Code <input name="user_code" value="${escapeHtml(options.userCode)}" autocomplete="off"></label> `;
  return (
    '<!doctype html><meta charset="utf-8"><title>airlock dev login</title>' +
    `<h1>airlock dev login</h1><p>${escapeHtml(options.message ?? '')}</p>` +
    `<form method="post" action="${escapeHtml(options.action)}">` +
    `${hidden}${code}${buttons} <button name="action" value="deny">Deny</button></form>`
  );
}
