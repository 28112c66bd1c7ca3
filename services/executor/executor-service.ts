/**
 * The executor's gRPC service, wired from its stages (docs/architecture.md,
 * "Executor stages"). Nothing the mediator says is taken on trust:
 * OpenSession verifies the SSH certificate and binds it to the presented
 * grant (session-admission.ts); every intent is re-authorized against the
 * certificate's scope and the policy, and audited durably before it runs
 * (intent-call.ts); then the stage of its RPC runs it (exec-stream.ts,
 * logs.ts, port-forward.ts, objects.ts). Open sessions are re-checked for
 * revocation (revocation-sweep.ts).
 */
import { AirlockError } from '../core/errors.js';
import type {
  GetRequest,
  ListRequest,
  OpenSessionRequest,
  OpenSessionResponse,
  WitnessHeadMessage,
} from '../core/rpc/messages.js';
import { sessionTarget } from '../core/session/audit-records.js';
import { unary } from './call-context.js';
import { execStream } from './exec-stream.js';
import { createExecutorRuntime, type ExecutorDeps, type ExecutorRuntime } from './executor-runtime.js';
import { type IntentCall, intentCall } from './intent-call.js';
import { logsStream } from './logs.js';
import { objectsCall } from './objects.js';
import { portForwardStream } from './port-forward.js';
import { startRevocationSweep } from './revocation-sweep.js';
import { openSession } from './session-admission.js';

export type { ExecutorDeps } from './executor-runtime.js';

/** Records the mediator's head sent on a session's call, answers with this executor's (witness.ts). */
async function witnessed(rt: ExecutorRuntime, intent: IntentCall, head: string): Promise<WitnessHeadMessage> {
  const { session } = intent.ctx;
  await rt.witness.record(head, {
    session_id: session.id,
    ...(intent.ctx.traceId === undefined ? {} : { trace_id: intent.ctx.traceId }),
  });
  return { witness_head: rt.witness.ownHead() };
}

/** CloseSession: ends the call's session (its streams end too), audited as `session.closed`. */
function closeSession(rt: ExecutorRuntime) {
  return unary<WitnessHeadMessage, WitnessHeadMessage>(rt, 'CloseSession', (call, span) =>
    intentCall(rt, call, span, { event: 'session.closed', everyFailure: false }, async (intent) => {
      const id = intent.ctx.session.id;
      const session = rt.sessions.close(id, new AirlockError('SESSION_EXPIRED', 'session closed'));
      rt.metrics.sessionsActive.set(rt.sessions.size);
      if (session) await intent.audit('session.closed', { target: sessionTarget(session) });
      // After the close: a malformed head must not keep the session open.
      return witnessed(rt, intent, call.request.witness_head);
    }),
  );
}

/** Witness: the heads exchanged while a session is open (the mediator calls it every few seconds). */
function witness(rt: ExecutorRuntime) {
  return unary<WitnessHeadMessage, WitnessHeadMessage>(rt, 'Witness', (call, span) =>
    intentCall(rt, call, span, { event: 'checkpoint.witnessed', everyFailure: true }, (intent) =>
      witnessed(rt, intent, call.request.witness_head),
    ),
  );
}

export function createExecutorService(deps: ExecutorDeps) {
  const rt = createExecutorRuntime(deps);
  const stopSweep = startRevocationSweep(rt);
  const service = {
    OpenSession: unary<OpenSessionRequest, OpenSessionResponse>(rt, 'OpenSession', (call, span) =>
      openSession(rt, call, span),
    ),
    CloseSession: closeSession(rt),
    Witness: witness(rt),
    Exec: execStream(rt, 'exec'),
    Debug: execStream(rt, 'debug'),
    Logs: logsStream(rt),
    PortForward: portForwardStream(rt),
    Get: objectsCall<GetRequest>(rt, 'get'),
    List: objectsCall<ListRequest>(rt, 'list'),
  };
  return {
    service,
    sessions: rt.sessions,
    /** Stop accepting new sessions and intents; open streams continue until `cancelAll`. */
    drain(): void {
      rt.draining = true;
    },
    cancelAll(): void {
      stopSweep();
      rt.sessions.closeAll(new AirlockError('EXECUTOR_SHUTDOWN', 'the executor is shutting down'));
    },
  };
}

export type ExecutorService = ReturnType<typeof createExecutorService>;
