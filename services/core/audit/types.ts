/**
 * The audit event schema shared by broker, mediator and executor, and the
 * `AuditTrail` port each tier writes through. The JSON Schema of the same
 * shapes is `audit-event.schema.json`; docs/audit.md has an example of every
 * event.
 */
import type { AirlockError } from '../errors.js';

/** The tiers, and the jump door (services/mediator/door); each writes its own trail. */
export const AUDIT_TIERS = ['broker', 'mediator', 'executor', 'door'] as const;
export type AuditTier = (typeof AUDIT_TIERS)[number];

/** Every event name, grouped by the tier that normally emits it. */
export const AUDIT_EVENT_NAMES = [
  // broker: access requests and certificates
  'request.created',
  'request.approved',
  'request.denied',
  'request.expired',
  'cert.issued',
  'cert.revoked',
  // broker, ephemeral mode: a request's own mediator and executor pods created / deleted
  'tiers.launched',
  'tiers.deleted',
  // mediator: SSH connections, authentication, sessions, intents
  'connection.opened',
  'connection.closed',
  'auth.accepted',
  'auth.denied',
  'session.opened',
  'session.closed',
  'session.expired',
  'intent.allowed',
  'intent.denied',
  // mediator: four-eyes sessions (a moderator joins, leaves, approves, rejects, terminates)
  'moderation.joined',
  'moderation.left',
  'moderation.approved',
  'moderation.rejected',
  'moderation.terminated',
  // executor: Kubernetes actions
  'exec.started',
  'exec.exited',
  'logs.streamed',
  'portforward.opened',
  'portforward.closed',
  'debug.added',
  // door (services/mediator/door): the jump to a request's mediator, allowed or refused
  'door.connect',
  // any tier
  'config.loaded',
  'ca.changed',
  // any tier: another tier's signed checkpoint head, received and recorded (witness.ts)
  'checkpoint.witnessed',
] as const;
export type AuditEventName = (typeof AUDIT_EVENT_NAMES)[number];

/** Who acted. */
export interface AuditActor {
  user?: string;
  groups?: string[];
  /** e.g. `user`, `approver`, `service`, `system`. */
  kind?: string;
  /** Remote address, `ip:port`. */
  address?: string;
}

/** What was acted on. */
export interface AuditTarget {
  cluster?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  /** e.g. `pods/exec`, `pods/log`, `pods/portforward`, `pods/ephemeralcontainers`. */
  resource?: string;
  /** The command exactly as requested; control characters are stored escaped. */
  argv?: string[];
  port?: number;
}

/** One audit event, as stored (without the chain fields). */
export interface AuditEvent {
  v: 1;
  /** RFC 3339 UTC with milliseconds, e.g. `2026-11-27T05:32:16.123Z`. */
  time: string;
  tier: AuditTier;
  event: AuditEventName;
  actor: AuditActor;
  target: AuditTarget;
  decision?: 'allow' | 'deny';
  /** An airlock error code (services/core/errors.ts) when denied or failed. */
  code?: string;
  reason?: string;
  session_id?: string;
  request_id?: string;
  trace_id?: string;
  span_id?: string;
  /** Event-specific numbers and facts: exit_code, bytes_in, bytes_out, duration_ms, … */
  details?: Record<string, unknown>;
}

/** What a tier passes to `append`; the trail adds `v`, `time` and `tier`. */
export type AuditEventInput = Omit<AuditEvent, 'v' | 'time' | 'tier'>;

/** Options of one `append`. */
export interface AppendOptions {
  /**
   * Resolve only after the record is on stable storage (fsync). Defaults to
   * true when the event carries a `decision`: the caller awaits the append
   * before the allowed action proceeds, so an allowed action is never
   * performed without its record on disk.
   */
  durable?: boolean;
}

/**
 * Where a tier writes its audit trail.
 *
 * Lifecycle: the composition root creates the trail at start-up and closes it
 * at shutdown; components only `append`. Appends are applied in call order.
 * When the trail cannot be written, the rejecting append and every later one
 * reject with `AirlockError('AUDIT_UNAVAILABLE')` and `healthy()` stays false
 * for the life of the object: tiers fail closed (refuse new actions) rather
 * than act unaudited. After `close()` every append rejects the same way.
 */
export interface AuditTrail {
  /** Appends one event. Rejects with AUDIT_UNAVAILABLE if it could not be written. */
  append(event: AuditEventInput, options?: AppendOptions): Promise<void>;
  /**
   * The last signed checkpoint this object wrote that is on stable storage,
   * or undefined before the first one: the head other tiers witness.
   */
  latestCheckpoint(): AuditCheckpointRecord | undefined;
  /** Writes a signed checkpoint now (durable). */
  checkpoint(): Promise<void>;
  /** Writes a final signed checkpoint, flushes and closes. Idempotent. */
  close(): Promise<void>;
  /** False once a write failed or the trail was closed. */
  healthy(): boolean;
  /** The failure that made the trail unhealthy, if any. */
  readonly lastError: AirlockError | undefined;
}

/** 64 hex zeros: the `prev` of the first record of a trail. */
export const GENESIS_HASH = '0'.repeat(64);

/** Chain fields every stored record carries. */
export interface ChainFields {
  seq: number;
  /** Hex SHA-256 of the previous record's line (its canonical JSON), or GENESIS_HASH. */
  prev: string;
  /** Hex SHA-256 over the canonical JSON of this record without `hash`. */
  hash: string;
}

/** A stored event line. */
export type AuditEventRecord = AuditEvent & ChainFields & { type: 'event' };

/** Why a checkpoint was written. */
export type CheckpointReason = 'interval' | 'manual' | 'rotate' | 'close';

/** A stored, signed checkpoint line. */
export interface AuditCheckpointRecord extends ChainFields {
  type: 'checkpoint';
  v: 1;
  time: string;
  tier: AuditTier;
  reason: CheckpointReason;
  /** Seq of the last record this checkpoint covers (= seq - 1; -1 for an empty trail). */
  upTo: number;
  /** Hash of record `upTo` (= prev): the head of the chain being signed. */
  chainHash: string;
  /** Base64 Ed25519 signature over the canonical JSON of this record without `sig` and `hash`. */
  sig: string;
  /** Identifies the signing key: see `auditKeyId`. */
  keyId: string;
}

export type AuditRecord = AuditEventRecord | AuditCheckpointRecord;
