import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Connection, ServerChannel } from 'ssh2';
import type { AuditEventInput, AuditTrail } from '../core/audit/types.js';
import { type CheckpointWitness, createCheckpointWitness } from '../core/audit/witness.js';
import { AirlockError } from '../core/errors.js';
import { Metrics } from '../core/observability/ops-server.js';
import type { Policy, Scope } from '../core/policy/index.js';
import type { ExecutorClient } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import type { Session } from '../core/session/session.js';
import { scopeOf } from '../core/session/session-scope.js';
import type { HostKey } from '../core/ssh-cert/host-key.js';
import type { RevocationList, SshPublicKey } from '../core/ssh-cert/index.js';
import type { TierCa } from '../core/x509/index.js';
import { exitCodeFor, formatError } from './command-language/exit-codes.js';
import type { AdmittedConnectionState } from './connection-state.js';
import { admissionMetrics, frontContextBase } from './front-context.js';
import type { LiveSession } from './live/live-session.js';

export interface MediatorLimits {
  /** A connection that has not authenticated by then is closed. */
  preAuthTimeoutMs: number;
  maxUnauthenticatedPerSource: number;
  maxSessionsPerPrincipal: number;
  /** No channel activity for this long closes the connection. */
  idleTimeoutMs: number;
  /** Interactive sessions are warned this long before the certificate expires. */
  expiryWarningMs: number;
}

export const DEFAULT_LIMITS: MediatorLimits = {
  preAuthTimeoutMs: 20_000,
  maxUnauthenticatedPerSource: 10,
  maxSessionsPerPrincipal: 10,
  idleTimeoutMs: 15 * 60_000,
  expiryWarningMs: 60_000,
};

/** What the SSH front door is built from; main.ts (or a test) supplies every part. */
/**
 * The default bound on OpenSession. Without one, a connection to an executor
 * address that silently drops packets (a pod that just died, its IP not yet
 * reused) waits for the kernel's TCP retries, about two minutes; seen in
 * test/pods. Long enough for a loaded executor's certificate checks and
 * SubjectAccessReview; short enough that the user hears back.
 */
export const OPEN_SESSION_TIMEOUT_MS = 10_000;

/** Default of `witnessIntervalMs`: short, because it bounds the window in which a cut goes unnoticed. */
export const WITNESS_INTERVAL_MS = 10_000;

export interface MediatorDeps {
  hostKey: HostKey;
  trustedSshCas: () => readonly SshPublicKey[];
  revocation: () => readonly RevocationList[];
  policy: () => Policy;
  /** Ephemeral mode: the only request whose certificates this mediator admits (config `requestId`). */
  requestId?: string;
  /**
   * The mediator tier CA that issues one session grant per SSH connection:
   * the keyring's signer at the moment the session opens.
   */
  mediatorCa: () => Promise<TierCa>;
  /**
   * `caPem`: the executor CA bundle that new channels trust (re-read when it
   * rotates). `openTimeoutMs`: how long OpenSession may take, connecting
   * included, before the user gets EXECUTOR_UNAVAILABLE (default
   * {@link OPEN_SESSION_TIMEOUT_MS}).
   */
  executor: { address: string; caPem: () => string; serverName?: string; openTimeoutMs?: number };
  audit: AuditTrail;
  /**
   * How often an open session exchanges checkpoint heads with the executor
   * (Witness), besides at OpenSession and CloseSession; default
   * {@link WITNESS_INTERVAL_MS}. A cut of a trail back to before the last
   * witnessed head is detected; docs/audit.md, "Witnessed checkpoints".
   */
  witnessIntervalMs?: number;
  logger: Logger;
  clock: () => Date;
  limits: MediatorLimits;
  /** Where `/metrics` counts come from; a private registry when absent. */
  metrics?: Metrics;
  /** Record interactive sessions (asciicast v2) here; input only if `recordInput`. */
  recordings?: { dir: string; recordInput: boolean };
  /**
   * Spans: `ssh.session` per connection, `airlock.command` per command. The
   * global tracer when absent (a no-op until main.ts starts the SDK; ids are
   * then random so audit records still correlate).
   */
  tracer?: Tracer;
}

/** The executor session of one SSH connection, converted once from the wire answer. */
export interface OpenedSession {
  client: ExecutorClient;
  session: Session;
  /** The `ssh.session` span's traceparent: OpenSession, CloseSession, completion, forwards. */
  traceparent: string;
  /** Stops the periodic checkpoint-head exchange (at close). */
  stopWitness: () => void;
}

/** What one SSH connection carries from stage to stage. */
export interface ConnectionState extends AdmittedConnectionState {
  opened?: Promise<OpenedSession>;
  /** Channels whose command is still running: what expiry and shutdown end. */
  channels: Set<ServerChannel>;
  /** Channels running an interactive session: warned before expiry. */
  interactive: Set<ServerChannel>;
  /** Set once the executor session is open when the certificate's scope requires moderation. */
  live?: LiveSession;
}

/**
 * The one dependency object every connection stage takes: the deps as given,
 * plus what the front door derives from them once (logger, tracer, metrics,
 * the audit writer) and the state shared across connections.
 */
export interface FrontendContext {
  deps: MediatorDeps;
  log: Logger;
  tracer: Tracer;
  metrics: ReturnType<typeof frontendMetrics>;
  /** Appends to the trail; durable when the event carries a decision. Never throws. */
  audit(event: AuditEventInput, durable?: boolean): Promise<void>;
  /** Records the executor's checkpoint heads and hands out the mediator's (witness.ts). */
  witness: CheckpointWitness;
  /** Open SSH connections. */
  connections: Set<{ client: Connection; state: ConnectionState }>;
  /** Authenticated connections per certificate principal (`maxSessionsPerPrincipal`). */
  sessionsByPrincipal: Map<string, number>;
  /** Moderated sessions open now, by session id: what `ssh gw sessions` lists and `join` attaches to. */
  live: Map<string, LiveSession>;
}

function frontendMetrics(metrics: Metrics) {
  return {
    ...admissionMetrics(metrics, 'mediator', 'Open SSH connections'),
    sessionsOpened: metrics.counter(
      'airlock_mediator_sessions_total',
      'Executor sessions opened for SSH connections, by result',
      ['result'],
    ),
    sessionOpenSeconds: metrics.histogram(
      'airlock_mediator_session_open_duration_seconds',
      'From SSH authentication to the executor session (grant, mTLS, OpenSession), by result',
      ['result'],
    ),
    commandSeconds: metrics.histogram(
      'airlock_mediator_command_duration_seconds',
      'One `ssh gw <command>` from parse to exit status, by command (streams last as long as they run)',
      ['command'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    ),
  };
}

export function createFrontendContext(deps: MediatorDeps): FrontendContext {
  return {
    deps,
    ...frontContextBase(deps, { component: 'mediator.ssh', tracerName: 'airlock.mediator' }),
    metrics: frontendMetrics(deps.metrics ?? new Metrics()),
    witness: createCheckpointWitness(deps.audit),
    connections: new Set(),
    live: new Map(),
  };
}

/**
 * The scope of the certificate this connection authenticated with, as the
 * mediator verified it (`requireScope`, so present once authenticated);
 * fails closed otherwise.
 */
export function verifiedScope(state: ConnectionState): Scope {
  const scope = state.identity?.scope;
  if (!scope) throw new AirlockError('CERT_SCOPE_INVALID', 'the certificate has no airlock scope');
  return scopeOf(scope);
}

/** Sends the exit status and ends the channel, unless it is gone already. */
export function finish(channel: ServerChannel, code: number): void {
  if (channel.destroyed) return;
  channel.exit(code);
  channel.end();
}

/** Prints the error (`airlock: CODE: reason`, or JSON) and exits with its status. */
export function fail(channel: ServerChannel, error: unknown, output: 'text' | 'json' = 'text'): void {
  const airlock = error instanceof AirlockError ? error : fromGrpcError(error);
  channel.stderr.write(formatError(airlock, output));
  finish(channel, exitCodeFor(airlock.code));
}
