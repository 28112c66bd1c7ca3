/** The broker's periodic work, each run by one replica at a time (`store.exclusive`). */
import type { LogEntry } from '../../core/observability/logging.js';
import type { AccessBroker } from '../access-broker.js';
import type { BrokerConfig } from '../config.js';
import type { TierLifecycle } from '../launcher/tier-lifecycle.js';
import type { RequestStore } from '../request-store.js';

type Log = (entry: LogEntry) => void;

/**
 * Every `expirySweepSeconds`: expires pending requests past their expiry,
 * prunes requests past retention (the audit trail keeps them) and catches the
 * revocation lists up with the store. One replica at a time (PostgreSQL
 * advisory lock, docs/broker.md "Request store"); lazy expiry on every read
 * covers the others.
 */
export function startExpirySweep(deps: {
  readonly store: RequestStore;
  readonly broker: Pick<AccessBroker, 'expirePending'>;
  readonly revocationCatchUp: { run(): Promise<number> };
  readonly retentionDays: number;
  readonly intervalSeconds: number;
  readonly clock: () => Date;
  readonly log: Log;
}): NodeJS.Timeout {
  const { store, clock, log } = deps;
  const retentionMs = deps.retentionDays * 86_400_000;
  const sweep = setInterval(() => {
    store
      .exclusive('expiry-sweep', async () => {
        await deps.broker.expirePending();
        const now = clock();
        const pruned = await store.prune(new Date(now.getTime() - retentionMs), now);
        if (pruned > 0) log({ level: 'info', message: `pruned ${pruned} requests past retention` });
        await deps.revocationCatchUp.run();
      })
      .catch((error: unknown) => log({ level: 'error', message: 'expiry sweep failed', err: error }));
  }, deps.intervalSeconds * 1000);
  sweep.unref();
  return sweep;
}

/**
 * Ephemeral mode: deletes the leftovers of requests no longer approved and
 * live, now and every `launcher.sweepSeconds` (one broker replica at a time).
 */
export function startTierSweep(
  tiers: TierLifecycle,
  store: Pick<RequestStore, 'exclusive'>,
  config: BrokerConfig,
  log: Log,
): NodeJS.Timeout {
  const run = () =>
    store
      .exclusive('tier-sweep', async () => {
        const removed = await tiers.sweep();
        if (removed.length > 0) log({ level: 'info', message: `deleted the tiers of ${removed.join(', ')}` });
      })
      .catch((error: unknown) => log({ level: 'error', message: 'tier sweep failed', err: error }));
  void run();
  const seconds = config.launcher?.mode === 'ephemeral' ? config.launcher.sweepSeconds : 30;
  const timer = setInterval(run, seconds * 1000);
  timer.unref();
  return timer;
}
