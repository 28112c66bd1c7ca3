/**
 * The CSR approval webhook's HTTPS endpoint: `POST /csr-approval` takes an
 * AdmissionReview and answers it with the verdict of `decideCsrApproval`.
 *
 * Anything that is not a well-formed review of
 * `certificatesigningrequests/approval` gets HTTP 400 and no verdict; the
 * API server counts that as a webhook failure, and with `failurePolicy:
 * Fail` the approval is refused (fail closed), exactly as when the webhook
 * is down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AirlockError } from '../core/errors.js';
import { type ListeningHttps, listenHttps } from '../core/service/https-listen.js';
import { admissionResponse, parseCsrApprovalReview } from './admission-review.js';
import { type CsrApprovalRules, decideCsrApproval } from './csr-approval.js';

/** The path the ValidatingWebhookConfiguration points at. */
export const CSR_APPROVAL_PATH = '/csr-approval';
/** An AdmissionReview of one CSR is a few kB; anything far larger is not one. */
const MAX_BODY_BYTES = 1024 * 1024;

/** What one answered review was, for metrics. */
export interface ReviewOutcome {
  readonly decision: 'allow' | 'deny' | 'invalid';
  readonly code?: string;
}

export interface CsrApprovalHandlerDeps {
  readonly rules: CsrApprovalRules;
  readonly logger: Logger;
  /** Called once per answered request (also for invalid ones). */
  readonly onReview?: (outcome: ReviewOutcome) => void;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AirlockError('ADMISSION_REVIEW_INVALID', 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: object | string): void {
  const json = typeof body !== 'string';
  res
    .writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain' })
    .end(json ? JSON.stringify(body) : `${body}\n`);
}

/** The request handler (a seam for tests without TLS). */
export function createCsrApprovalHandler(
  deps: CsrApprovalHandlerDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const log = deps.logger.child({ component: 'admission.csr-approval' });
  return (req, res) => {
    void (async () => {
      // The API server appends `?timeout=10s` (the webhook's timeoutSeconds) to the path.
      const path = new URL(req.url ?? '/', 'https://webhook.invalid').pathname;
      if (path !== CSR_APPROVAL_PATH || req.method !== 'POST') {
        send(res, 404, 'not found');
        return;
      }
      let review: ReturnType<typeof parseCsrApprovalReview>;
      try {
        review = parseCsrApprovalReview(JSON.parse(await readBody(req)));
      } catch (error) {
        const code = error instanceof AirlockError ? error.code : 'ADMISSION_REVIEW_INVALID';
        log.warn({ code, err: String(error) }, 'invalid admission review refused');
        deps.onReview?.({ decision: 'invalid', code });
        send(res, 400, `${code}: ${error instanceof AirlockError ? error.message : 'body is not JSON'}`);
        return;
      }
      const verdict = await decideCsrApproval(review, deps.rules);
      const code = verdict.auditAnnotations?.code;
      log.info(
        {
          uid: review.uid,
          approver: review.username,
          csr: review.csr.name,
          decision: verdict.allowed ? 'allow' : 'deny',
          ...(code ? { code, reason: verdict.auditAnnotations?.reason } : {}),
        },
        'csr approval reviewed',
      );
      deps.onReview?.({ decision: verdict.allowed ? 'allow' : 'deny', ...(code ? { code } : {}) });
      send(res, 200, admissionResponse(review.uid, verdict));
    })().catch((error: unknown) => {
      log.error({ err: String(error) }, 'admission review failed');
      if (!res.headersSent) send(res, 500, 'INTERNAL: review failed');
    });
  };
}

/** A listening HTTPS server and how to stop it. */
export type ListeningWebhook = ListeningHttps;

/** Serves `handler` over HTTPS (TLS 1.2+) on `listen` (`host:port`; an IPv6 host may be in brackets). */
export function listenWebhook(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls: { key: string; cert: string },
  listen: string,
): Promise<ListeningWebhook> {
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator).replace(/^\[|\]$/g, '');
  return listenHttps(handler, tls, host, Number(listen.slice(separator + 1)));
}
