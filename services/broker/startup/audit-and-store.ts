/** The broker's audit trail and request store, opened at start. */
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AuditTrail, createFileAuditTrail } from '../../core/audit/index.js';
import type { LogEntry } from '../../core/observability/logging.js';
import { offPodAckStorage } from '../../core/service/tier-trust.js';
import { type BrokerMetrics, withAuditMetrics } from '../broker-metrics.js';
import type { BrokerConfig } from '../config.js';
import type { RequestStore } from '../request-store.js';
import { openRequestStore } from '../store/open-store.js';
import { effectiveStoreConfig, type StoreConfig } from '../store/store-config.js';

/** The signed file trail of `config.audit` (off-pod acknowledged when configured), counted by `brokerMetrics`. */
export async function openBrokerAudit(
  config: BrokerConfig,
  clock: () => Date,
  brokerMetrics: BrokerMetrics,
): Promise<AuditTrail> {
  const ackStorage = offPodAckStorage(config.audit.offPodAck);
  const fileAudit: AuditTrail = await createFileAuditTrail({
    path: config.audit.path,
    tier: 'broker',
    signingKey: createPrivateKey(await readFile(config.audit.signingKeyFile)),
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointSeconds * 1000,
    clock,
    ...(ackStorage ? { storage: ackStorage } : {}),
  });
  return withAuditMetrics(fileAudit, (event) => brokerMetrics.observeAudit(event));
}

/** Opens (migrates, imports into) the configured request store and logs what opening did. */
export async function openBrokerStore(
  config: BrokerConfig,
  clock: () => Date,
  log: (entry: LogEntry) => void,
): Promise<{ store: RequestStore; storeConfig: StoreConfig }> {
  const storeConfig = effectiveStoreConfig(config);
  const opened = await openRequestStore(storeConfig, clock(), (message, err) =>
    log({ level: 'error', message, err }),
  );
  log({
    level: 'info',
    message: `request store ${opened.description} at schema ${opened.schemaVersion}`,
    ...(opened.migratedFrom === opened.schemaVersion ? {} : { migrated_from: opened.migratedFrom }),
    ...(opened.imported === 0 ? {} : { imported_from_json: opened.imported }),
  });
  return { store: opened.store, storeConfig };
}
