/**
 * `InMemoryAuditTrail`: a real `AuditTrail` that keeps events in memory, for
 * tests of the tiers (as OpenTelemetry ships `InMemorySpanExporter`). It
 * enforces the same contract as the file trail: appends in order, rejection
 * with AUDIT_UNAVAILABLE after `breakWith` or `close`.
 */
import { AirlockError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import {
  type AppendOptions,
  AUDIT_EVENT_NAMES,
  type AuditEvent,
  type AuditEventInput,
  type AuditTier,
  type AuditTrail,
} from './types.js';

/** An appended event and whether the caller asked for durability. */
export interface InMemoryAuditEntry {
  readonly event: AuditEvent;
  readonly durable: boolean;
}

export class InMemoryAuditTrail implements AuditTrail {
  lastError: AirlockError | undefined;
  private readonly entries: InMemoryAuditEntry[] = [];
  private checkpoints = 0;
  private closed = false;

  constructor(
    private readonly tier: AuditTier = 'broker',
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async append(event: AuditEventInput, options: AppendOptions = {}): Promise<void> {
    if (this.lastError) throw this.lastError;
    if (!(AUDIT_EVENT_NAMES as readonly string[]).includes(event.event))
      throw new AirlockError('INTERNAL', `unknown audit event ${String(event.event)}`);
    // Store what the file would hold: a JSON round trip, so tests see the
    // stored form and a non-serialisable event fails here as it would there.
    let stored: AuditEvent;
    try {
      stored = JSON.parse(
        canonicalJson({ ...event, v: 1, time: this.clock().toISOString(), tier: this.tier }),
      ) as AuditEvent;
    } catch (cause) {
      throw new AirlockError('INTERNAL', 'audit event is not serialisable', { cause });
    }
    this.entries.push({ event: stored, durable: options.durable ?? event.decision !== undefined });
  }

  /** Unsigned in memory: there is no checkpoint record to witness. */
  latestCheckpoint(): undefined {
    return undefined;
  }

  async checkpoint(): Promise<void> {
    if (this.lastError) throw this.lastError;
    this.checkpoints++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.lastError) this.checkpoints++;
    this.closed = true;
    this.lastError ??= new AirlockError('AUDIT_UNAVAILABLE', 'audit trail is closed');
  }

  healthy(): boolean {
    return this.lastError === undefined;
  }

  /** The events appended so far, in order. */
  events(): AuditEvent[] {
    return this.entries.map((e) => e.event);
  }

  /** The events with their durability flag. */
  appended(): readonly InMemoryAuditEntry[] {
    return [...this.entries];
  }

  /** Checkpoints written (explicit and at close). */
  checkpointCount(): number {
    return this.checkpoints;
  }

  /** Makes the trail unavailable, as a full disk would: every later append rejects. */
  breakWith(detail = 'simulated failure'): void {
    this.lastError = new AirlockError('AUDIT_UNAVAILABLE', 'audit trail cannot be written', { detail });
  }
}
