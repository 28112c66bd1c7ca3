/**
 * What every stage of the executor shares: its dependencies (one deps
 * object, built by main.ts), and the state built from them once per service
 * (component logger, tracer, metrics, the session registry, the draining
 * flag). Stages take an `ExecutorRuntime` and nothing else.
 */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AuditTrail } from '../core/audit/types.js';
import { type CheckpointWitness, createCheckpointWitness } from '../core/audit/witness.js';
import { Metrics } from '../core/observability/ops-server.js';
import { defaultTracer } from '../core/observability/telemetry.js';
import type { Policy } from '../core/policy/index.js';
import { sessionTarget } from '../core/session/audit-records.js';
import type { RevocationList, SshPublicKey } from '../core/ssh-cert/index.js';
import type { KubeCredentials } from './kube-credentials.js';
import type { KubeGateway } from './kube-gateway.js';
import { SessionRegistry } from './session-registry.js';
import type { UsedSignatures } from './used-signatures.js';

export interface ExecutorDeps {
  /** The cluster name this executor serves; a scope for another cluster is refused. */
  cluster: string;
  policy: () => Policy;
  /** The broker's SSH user CA public keys (several during a rotation). */
  trustedSshCas: () => readonly SshPublicKey[];
  revocation: () => readonly RevocationList[];
  /** The mediator tier's CA certificates (PEM), for session grants. */
  mediatorCas: () => readonly string[];
  kube: KubeGateway;
  /**
   * How each session authenticates to Kubernetes: opened at OpenSession (a
   * failure refuses the session), released when the session ends.
   */
  kubeCredentials: KubeCredentials;
  audit: AuditTrail;
  logger: Logger;
  /** Overridden in tests. */
  clock: () => Date;
  /** The logins already accepted: each signed userauth request opens one session only. */
  usedSignatures: UsedSignatures;
  /** Open sessions per user (SSH principal); one more is refused with LIMIT_EXCEEDED. */
  maxSessionsPerUser: number;
  /** Where `/metrics` counts come from; a private registry when absent. */
  metrics?: Metrics;
  /**
   * Spans: `executor.<Method>` per RPC, a child of the caller's `traceparent`
   * metadata, and `kube.*` per Kubernetes call under it. The global tracer
   * when absent (a no-op until main.ts starts the SDK: the caller's ids are
   * then used as they are).
   */
  tracer?: Tracer;
}

/** The executor's `/metrics` series. */
export function executorMetrics(metrics: Metrics) {
  return {
    intentsTotal: metrics.counter('airlock_executor_intents_total', 'Intents by action, decision and code', [
      'action',
      'decision',
      'code',
    ]),
    sessionsTotal: metrics.counter(
      'airlock_executor_session_opens_total',
      'OpenSession calls by decision and code',
      ['decision', 'code'],
    ),
    sessionsActive: metrics.gauge('airlock_executor_sessions_active', 'Sessions open at the executor'),
    authorizeSeconds: metrics.histogram(
      'airlock_executor_intent_authorize_duration_seconds',
      'Policy decision plus its durable audit record, per intent, by action and decision',
      ['action', 'decision'],
    ),
  };
}

export interface ExecutorRuntime {
  readonly deps: ExecutorDeps;
  readonly log: Logger;
  readonly tracer: Tracer;
  readonly metrics: ReturnType<typeof executorMetrics>;
  readonly sessions: SessionRegistry;
  /** Set by `drain()`: no new sessions or intents. */
  draining: boolean;
  /** OpenSession calls past the session limit check and not yet ended, by user. */
  readonly opening: Map<string, number>;
  /** Records the mediator's checkpoint heads and hands out this executor's (witness.ts). */
  readonly witness: CheckpointWitness;
}

/** The runtime of one executor service; an expiring session is audited as `session.expired`. */
export function createExecutorRuntime(deps: ExecutorDeps): ExecutorRuntime {
  const log = deps.logger.child({ component: 'executor.service' });
  const sessions = new SessionRegistry(
    deps.clock,
    (session) => {
      void deps.audit.append({
        event: 'session.expired',
        actor: { user: session.user },
        target: sessionTarget(session),
        code: 'SESSION_EXPIRED',
        session_id: session.id,
        request_id: session.scope.requestId,
      });
    },
    // However a session ends, its Kubernetes credentials end with it (csr mode: the CSR is deleted).
    (session) => void session.kube.release(),
  );
  return {
    deps,
    log,
    tracer: deps.tracer ?? defaultTracer('airlock.executor'),
    metrics: executorMetrics(deps.metrics ?? new Metrics()),
    sessions,
    draining: false,
    opening: new Map(),
    witness: createCheckpointWitness(deps.audit),
  };
}
