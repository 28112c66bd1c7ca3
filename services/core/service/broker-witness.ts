/**
 * The mediator's and the executor's `audit.brokerWitness` (docs/audit.md
 * "Witnessed checkpoints"): the broker witness client started around the
 * tier's trail, and the trail the tier's code appends through, which sends
 * the head to the broker after each `session.opened` and `session.closed`
 * record (session start and end) besides the client's own interval.
 */
import { readFileSync } from 'node:fs';
import { afterAppend } from '../audit/after-append.js';
import { type BrokerWitnessClient, startBrokerWitnessClient } from '../audit/broker-witness-client.js';
import type { AuditTrail } from '../audit/types.js';
import type { BrokerWitnessConfig } from './config-file.js';

/** The events after which the head goes to the broker at once. */
const SESSION_EDGES: ReadonlySet<string> = new Set(['session.opened', 'session.closed']);

export interface BrokerWitnessedTrail {
  /** The tier's trail, nudging the broker witness at session start and end. */
  readonly audit: AuditTrail;
  /** Stops the client after sending the final head (the close checkpoint); a no-op without brokerWitness. */
  stop(): Promise<void>;
}

export function withBrokerWitness(
  audit: AuditTrail,
  config: BrokerWitnessConfig | undefined,
  intervalMs: number,
  log: (message: string, error?: unknown) => void,
  post?: (url: string, body: string) => Promise<string>,
): BrokerWitnessedTrail {
  if (config === undefined) return { audit, stop: async () => {} };
  const client: BrokerWitnessClient = startBrokerWitnessClient(audit, {
    url: config.url,
    ...(config.caBundleFile ? { ca: readFileSync(config.caBundleFile, 'utf8') } : {}),
    intervalMs,
    log,
    ...(post ? { post } : {}),
  });
  const nudging = afterAppend(audit, (event) => {
    if (SESSION_EDGES.has(event.event)) client.nudge();
  });
  return { audit: nudging, stop: () => client.stop(true) };
}
