import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AuditTrail } from '../../core/audit/types.js';
import { Metrics } from '../../core/observability/ops-server.js';
import type { Policy } from '../../core/policy/index.js';
import type { HostKey } from '../../core/ssh-cert/host-key.js';
import type { RevocationList, SshPublicKey } from '../../core/ssh-cert/index.js';
import type { AdmittedConnectionState } from '../connection-state.js';
import { admissionMetrics, frontContextBase } from '../front-context.js';
import type { AdmissionContext } from '../ssh-auth.js';
import type { MediatorResolver } from './mediator-resolver.js';

export interface DoorLimits {
  /** A connection that has not authenticated by then is closed. */
  preAuthTimeoutMs: number;
  maxUnauthenticatedPerSource: number;
  /** Authenticated door connections per certificate principal. */
  maxSessionsPerPrincipal: number;
  /** How long a channel open waits for the request's mediator before MEDIATOR_NOT_READY. */
  mediatorReadyMs: number;
  /** The pause between two attempts to resolve and reach the mediator while waiting. */
  mediatorRetryMs: number;
  /** One attempt to reach the mediator: the TCP connect and its SSH identification. */
  mediatorConnectMs: number;
}

export const DEFAULT_DOOR_LIMITS: DoorLimits = {
  preAuthTimeoutMs: 20_000,
  maxUnauthenticatedPerSource: 10,
  maxSessionsPerPrincipal: 10,
  mediatorReadyMs: 30_000,
  mediatorRetryMs: 500,
  mediatorConnectMs: 5_000,
};

/**
 * What the jump door is built from; main.ts (or a test) supplies every part.
 * There is no Kubernetes credential, no signing key and no executor here:
 * the door verifies certificates with public keys and forwards bytes.
 */
export interface DoorDeps {
  hostKey: HostKey;
  trustedSshCas: () => readonly SshPublicKey[];
  revocation: () => readonly RevocationList[];
  policy: () => Policy;
  /** Finds the mediator of a request (Kubernetes Services, or in memory). */
  resolver: MediatorResolver;
  audit: AuditTrail;
  logger: Logger;
  clock: () => Date;
  limits: DoorLimits;
  metrics?: Metrics;
  tracer?: Tracer;
}

/** One door connection, from TCP accept to close. */
export interface DoorConnectionState extends AdmittedConnectionState {
  /** Aborted when the connection closes: waits for a mediator stop. */
  closed: AbortController;
}

/** The admission stages' context (shared with the mediator) plus the door's own parts. */
export interface DoorContext extends AdmissionContext {
  deps: DoorDeps;
  tracer: Tracer;
  doorMetrics: ReturnType<typeof doorMetrics>;
}

const CHANNELS_HELP = 'Channel opens on the door by result (allow, or the refusal code)';

function doorMetrics(metrics: Metrics) {
  const admission = admissionMetrics(metrics, 'door', 'Open SSH connections to the door');
  return {
    ...admission,
    channels: metrics.counter('airlock_door_channels_total', CHANNELS_HELP, ['result']),
  };
}

export function createDoorContext(deps: DoorDeps): DoorContext {
  const base = frontContextBase(deps, { component: 'door.ssh', tracerName: 'airlock.door' });
  const metrics = doorMetrics(deps.metrics ?? new Metrics());
  return { deps, ...base, metrics: { authFailures: metrics.authFailures }, doorMetrics: metrics };
}
