/**
 * A tier's side of the broker witness (docs/audit.md "Witnessed checkpoints";
 * the broker's side is services/broker/audit-witness.ts): POSTs the tier's
 * latest durable signed checkpoint head to the broker's `/v1/audit/witness`
 * every `intervalMs` and whenever `nudge()` is called (at session start and
 * end), but only when the head changed since the last send the broker
 * answered. The broker's answer carries its own latest head, which the tier
 * records in its trail (a `checkpoint.witnessed` event), so each side holds
 * the other's head. A failed send is logged and retried at the next tick or
 * nudge; it never stops the tier's work (the window in which a cut goes
 * unnoticed grows by the outage).
 */
import { request } from 'node:https';
import type { AuditTrail } from './types.js';
import { createCheckpointWitness } from './witness.js';

export interface BrokerWitnessClientOptions {
  /** The broker's base URL, e.g. `https://airlock-broker.airlock-system.svc:8443`. */
  readonly url: string;
  /** PEM CA bundle the broker's serving certificate verifies with; default the system's. */
  readonly ca?: string;
  readonly intervalMs: number;
  /** One request's bound; default 5000 ms. */
  readonly timeoutMs?: number;
  readonly log: (message: string, error?: unknown) => void;
  /** The HTTP client: POSTs `body` (JSON) and resolves with the answer's body; default node:https. */
  readonly post?: (url: string, body: string) => Promise<string>;
}

export interface BrokerWitnessClient {
  /** Sends the current head soon (coalesced with a send in flight). */
  nudge(): void;
  /** Stops the timer; with `final`, sends the head once more first (the close checkpoint). */
  stop(final?: boolean): Promise<void>;
}

function httpsPost(ca: string | undefined, timeoutMs: number) {
  return (url: string, body: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ...(ca ? { ca } : {}),
        timeout: timeoutMs,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve(text);
          else reject(new Error(`HTTP ${res.statusCode}: ${text.trim().slice(0, 300)}`));
        });
      });
      req.end(body);
    });
}

export function startBrokerWitnessClient(
  trail: AuditTrail,
  options: BrokerWitnessClientOptions,
): BrokerWitnessClient {
  const witness = createCheckpointWitness(trail);
  const post = options.post ?? httpsPost(options.ca, options.timeoutMs ?? 5000);
  const endpoint = new URL('/v1/audit/witness', options.url).toString();
  let lastSent = '';
  let inFlight: Promise<void> | undefined;
  let again = false;

  async function sendOnce(): Promise<void> {
    const head = witness.ownHead();
    if (head === '' || head === lastSent) return;
    try {
      const answer = JSON.parse(await post(endpoint, JSON.stringify({ head }))) as { head?: unknown };
      lastSent = head;
      if (typeof answer.head === 'string') await witness.record(answer.head);
    } catch (error) {
      options.log('checkpoint head not witnessed by the broker (retried at the next tick)', error);
    }
  }
  function nudge(): Promise<void> {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      do {
        again = false;
        await sendOnce();
      } while (again);
      inFlight = undefined;
    })();
    return inFlight;
  }
  const timer = setInterval(() => void nudge(), options.intervalMs);
  timer.unref();
  return {
    nudge: () => void nudge(),
    async stop(final = false) {
      clearInterval(timer);
      await inFlight;
      if (final) await nudge();
    },
  };
}
