/**
 * Webhook notifications of access requests: a Slack-compatible JSON body
 * (`{"text": ...}`, what Slack incoming webhooks and most chat bridges take)
 * for every new pending request and every decision on one (approved,
 * denied or withdrawn, revoked).
 *
 * Off the request path: `notify` returns at once; delivery runs in the
 * background with exponential backoff, and its failure never fails or
 * delays the request. A delivery that still fails after `maxAttempts` is
 * logged at error level with the request id, so an operator sees that
 * approvers were not told.
 */
import { httpsCall } from '../core/https/https-client.js';
import type { AccessRequest } from './request-store.js';

/** What happened to a request. */
export type RequestNotificationKind = 'pending' | 'approved' | 'denied' | 'revoked';

/** One notification. */
export interface RequestNotification {
  readonly kind: RequestNotificationKind;
  readonly request: AccessRequest;
  /** Who caused it (the requester for `pending`). */
  readonly actor: string;
}

/**
 * Port: tells people about requests. `notify` never throws and never waits
 * for delivery. `close` stops retries (pending ones are logged as dropped).
 */
export interface RequestNotifier {
  notify(notification: RequestNotification): void;
  close(): Promise<void>;
}

/** A notifier that tells no one (no webhook configured). */
export const NO_NOTIFIER: RequestNotifier = { notify() {}, async close() {} };

/** Slack's message formatting: `&`, `<`, `>` must be escaped, so user text cannot mention `<!channel>` or link. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The message text (pure). Every user-supplied part is escaped. */
export function notificationText({ kind, request, actor }: RequestNotification): string {
  const r = request;
  const what = `${r.scope.profile} on ${r.scope.cluster}/${r.scope.namespace}`;
  const e = slackEscape;
  switch (kind) {
    case 'pending': {
      const approvers = r.decision.approvers;
      const needs = approvers
        ? ` It needs ${approvers.count} approval(s) from ${approvers.groups.join(', ')}` +
          (r.pendingExpiresAt ? ` before ${r.pendingExpiresAt}` : '')
        : '';
      return e(
        `airlock: ${r.requester.user} requests ${what} (pods ${r.scope.podPatterns.join(', ')}) for ` +
          `${duration(r.scope.ttlSeconds)}: "${r.scope.reason}". Request ${r.id}.${needs}. ` +
          `Approve with: airlock approve ${r.id}`,
      );
    }
    case 'approved':
      return e(`airlock: request ${r.id} (${r.requester.user}, ${what}) was approved by ${actor}.`);
    case 'denied':
      return e(
        actor === r.requester.user
          ? `airlock: request ${r.id} (${r.requester.user}, ${what}) was withdrawn.`
          : `airlock: request ${r.id} (${r.requester.user}, ${what}) was denied by ${actor}` +
              (r.denial?.comment ? `: ${r.denial.comment}` : '.'),
      );
    case 'revoked':
      return e(`airlock: access of request ${r.id} (${r.requester.user}, ${what}) was revoked by ${actor}.`);
  }
}

/** Options of {@link createWebhookNotifier}. */
export interface WebhookNotifierOptions {
  /** An https URL. */
  readonly url: string;
  /** PEM bundle trusted for the webhook's TLS; undefined: the system store. */
  readonly ca: string | undefined;
  /** Attempts per notification, the first included. */
  readonly maxAttempts: number;
  /** Wait before the second attempt; doubled before each further one. */
  readonly initialBackoffMs: number;
  readonly log: (entry: Record<string, unknown>) => void;
  /** Most deliveries in progress at once; more are dropped (and logged). Default 100. */
  readonly maxPending?: number;
}

/** HTTP statuses worth retrying: timeouts, rate limits, server errors. Others are final. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * Delivers one notification: up to `maxAttempts` posts, waiting
 * `initialBackoffMs` doubled before each retry (`pause` answers false when
 * the notifier closed meanwhile: dropped, logged). A final failure is
 * logged at error level with the request id.
 */
async function deliver(
  options: WebhookNotifierOptions,
  notification: RequestNotification,
  pause: (ms: number) => Promise<boolean>,
): Promise<void> {
  const body = { text: notificationText(notification) };
  const about = { request_id: notification.request.id, notification: notification.kind };
  let lastProblem = '';
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    if (attempt > 1 && !(await pause(options.initialBackoffMs * 2 ** (attempt - 2)))) {
      options.log({ level: 'warn', message: 'webhook notification dropped at shutdown', ...about });
      return;
    }
    try {
      const response = await httpsCall(options.url, { ca: options.ca, json: body, timeoutMs: 10_000 });
      if (response.status >= 200 && response.status < 300) return;
      lastProblem = `HTTP ${response.status}`;
      if (!retryable(response.status)) break;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
  }
  options.log({
    level: 'error',
    message: `webhook notification failed: ${lastProblem}`,
    ...about,
    attempts_max: options.maxAttempts,
  });
}

/** Posts notifications to a webhook, retried with exponential backoff. */
export function createWebhookNotifier(options: WebhookNotifierOptions): RequestNotifier & {
  /** Resolves when no delivery is in progress (tests, shutdown). */
  idle(): Promise<void>;
} {
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;
  const maxPending = options.maxPending ?? 100;

  /** Sleeps unless closed; returns false when closed meanwhile. */
  const pause = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (closed) {
        resolve(false);
        return;
      }
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve(!closed);
        }, ms),
        wake: () => resolve(false),
      };
      entry.timer.unref();
      timers.add(entry);
    });

  return {
    notify(notification) {
      if (closed) return;
      if (inFlight.size >= maxPending) {
        options.log({
          level: 'error',
          message: `webhook notification dropped: ${maxPending} deliveries already pending`,
          request_id: notification.request.id,
          notification: notification.kind,
        });
        return;
      }
      const delivery = deliver(options, notification, pause).catch((error: unknown) =>
        options.log({ level: 'error', message: `webhook notification failed: ${String(error)}` }),
      );
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    async close() {
      closed = true;
      for (const { timer, wake } of timers) {
        clearTimeout(timer);
        wake();
      }
      timers.clear();
      await this.idle();
    },
  };
}
