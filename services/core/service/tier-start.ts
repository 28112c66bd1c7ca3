import { readFileSync } from 'node:fs';
import { closeTrail } from '../audit/close-trail.js';
import type { AuditTarget, AuditTier, AuditTrail } from '../audit/types.js';
import type { Logger } from '../observability/logging.js';
import { Metrics, type ReadinessCheck, startOpsServer } from '../observability/ops-server.js';
import { startTelemetry, type Telemetry, telemetryOptionsFromEnv } from '../observability/telemetry.js';
import { loadPolicy } from '../policy/index.js';
import type { TierAuditConfig } from './config-file.js';
import { auditFsyncFromEnv, openTierAuditTrail } from './tier-trust.js';

/**
 * What the start of the mediator, the door and the executor shares (their
 * composition roots, main.ts): the policy, the audit trail, telemetry and
 * metrics, the ops endpoint, and the end of it all on stop.
 */

/** `host:port` (a configuration's `listen`) split at its last colon. */
export function splitListen(listen: string): { host: string; port: number } {
  const separator = listen.lastIndexOf(':');
  return { host: listen.slice(0, separator), port: Number(listen.slice(separator + 1)) };
}

/**
 * The policy file, then the tier's own audit trail; its fsync is off only
 * for benchmarks (`auditFsyncFromEnv`, said at warn on `logger`).
 */
export async function openPolicyAndAudit(
  config: { policyFile: string; audit: TierAuditConfig },
  tier: AuditTier,
  clock: () => Date,
  logger: Logger,
) {
  const policy = loadPolicy(readFileSync(config.policyFile, 'utf8'));
  const auditFsync = auditFsyncFromEnv(process.env, (message) => logger.warn(message));
  const audit = await openTierAuditTrail(config.audit, tier, clock, auditFsync);
  return { policy, auditFsync, audit };
}

/**
 * The trail's first record, `config.loaded`: what the tier started with
 * (`details`), and `audit_fsync: false` when the benchmark switch turned the
 * trail's fsync off.
 */
export function appendConfigLoaded(
  audit: AuditTrail,
  details: Record<string, unknown>,
  auditFsync: boolean,
  target: AuditTarget = {},
): Promise<void> {
  return audit.append({
    event: 'config.loaded',
    actor: { kind: 'system' },
    target,
    details: { ...details, ...(auditFsync ? {} : { audit_fsync: false }) },
  });
}

/**
 * The tier's tracer and metrics. Spans always exist (their ids go into audit
 * records and Impersonate-Extra); they are exported only when
 * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. See docs/telemetry.md.
 */
export function startTierTelemetry(serviceName: string): { telemetry: Telemetry; metrics: Metrics } {
  const telemetry = startTelemetry(telemetryOptionsFromEnv(process.env, serviceName));
  return { telemetry, metrics: new Metrics({ processMetrics: true }) };
}

/** The ops endpoint (/healthz, /readyz, /metrics) when the configuration has an `ops` block. */
export async function startConfiguredOps(
  ops: { listen: string } | undefined,
  metrics: Metrics,
  checks: Record<string, ReadinessCheck>,
): Promise<{ port: number; close(): Promise<void> } | undefined> {
  return ops ? await startOpsServer({ listen: ops.listen, metrics, checks }) : undefined;
}

/**
 * The end of a stopped tier: the ops endpoint closed, the trail ended with
 * its close checkpoint (logged), `release` (what else the tier holds),
 * telemetry flushed; rejects after all that if the close checkpoint failed.
 */
export async function closeTier(
  parts: {
    ops: { close(): Promise<void> } | undefined;
    audit: AuditTrail;
    auditConfig: TierAuditConfig;
    logger: Logger;
    telemetry: Telemetry;
  },
  release: () => void | Promise<void> = () => {},
): Promise<void> {
  await parts.ops?.close();
  const end = await closeTrail(parts.audit, parts.auditConfig.offPodAck !== undefined);
  if (end.closed) parts.logger.info({ seq: end.seq }, end.message);
  await release();
  await parts.telemetry.shutdown();
  if (!end.closed) throw end.error;
}
