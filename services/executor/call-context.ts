/**
 * The first stage of every call after OpenSession: the RPC span, and the
 * call's session, found by the id in its metadata and the grant it presents.
 * Also the small gRPC adapters every stage shares (unary handler, error to
 * gRPC status, caller cancellation).
 */
import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { context as otelContext, ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AirlockError } from '../core/errors.js';
import { contextFromTraceparent, endSpan, traceIdsOf } from '../core/observability/telemetry.js';
import {
  APPROVED_BY_METADATA_KEY,
  decodeModerators,
  MODERATORS_METADATA_KEY,
  SESSION_METADATA_KEY,
} from '../core/rpc/executor-proto.js';
import { toGrpcError } from '../core/rpc/grpc-errors.js';
import type { Target } from '../core/rpc/messages.js';
import { targetNamespace } from '../core/session/target-namespace.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import type { KubeCaller, KubeGateway, PodTarget } from './kube-gateway.js';
import { withKubeSpans } from './kube-spans.js';
import type { ExecutorSession } from './session-registry.js';

export interface CallContext {
  session: ExecutorSession;
  /** The RPC span (`executor.<Method>`). */
  span: Span;
  /** The RPC span's ids: in audit records and (trace id) in Impersonate-Extra. */
  traceId: string | undefined;
  spanId: string | undefined;
  /** The Kubernetes gateway with a `kube.*` span around each call, children of the RPC span. */
  kube: KubeGateway;
  /** The mediator's moderation claim sent with this call (moderated sessions; checked by `moderationDenial`). */
  moderation: { moderators: string[]; approvedBy?: string };
}

export type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>;

/** The DER of the session grant (mTLS client certificate) this call was made with. */
export function peerCertificateDer(call: AnyCall): Buffer {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (!raw || raw.length === 0) {
    throw new AirlockError('GRANT_INVALID', 'a session grant (mTLS client certificate) is required');
  }
  return raw;
}

/** `executor.<method>`: a server span continuing the caller's traceparent, if it sent one. */
export function rpcSpan(rt: ExecutorRuntime, method: string, call: AnyCall): Span {
  return rt.tracer.startSpan(
    `executor.${method}`,
    {
      kind: SpanKind.SERVER,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': 'airlock.v1.Executor', 'rpc.method': method },
    },
    contextFromTraceparent(call.metadata.get('traceparent')[0]),
  );
}

/** Refuses new work while the audit trail is down or the executor drains. */
export function ensureServing(rt: ExecutorRuntime): void {
  if (!rt.deps.audit.healthy()) throw new AirlockError('AUDIT_UNAVAILABLE', 'the audit trail is unavailable');
  if (rt.draining) throw new AirlockError('EXECUTOR_SHUTDOWN', 'the executor is shutting down');
}

/** Authenticates an intent call: a live session, opened with the very grant presented now. */
export function callContext(rt: ExecutorRuntime, call: AnyCall, span: Span): CallContext {
  ensureServing(rt);
  const id = call.metadata.get(SESSION_METADATA_KEY)[0];
  if (typeof id !== 'string') throw new AirlockError('GRANT_INVALID', 'the call names no session');
  // TLS verified the grant's chain at the handshake, and OpenSession verified
  // this very certificate in full and bound its fingerprint to the session:
  // matching the fingerprint is enough here, and keeps per-intent cost low.
  const fingerprint = createHash('sha256').update(peerCertificateDer(call)).digest('hex');
  const session = rt.sessions.get(id, fingerprint);
  span.setAttributes({ 'airlock.session_id': session.id, 'enduser.id': session.user });
  const approvedBy = call.metadata.get(APPROVED_BY_METADATA_KEY)[0];
  return {
    session,
    span,
    moderation: {
      moderators: decodeModerators(call.metadata.get(MODERATORS_METADATA_KEY)),
      ...(typeof approvedBy === 'string' ? { approvedBy } : {}),
    },
    ...traceIdsOf(span),
    kube: withKubeSpans(rt.deps.kube, rt.tracer, trace.setSpan(ROOT_CONTEXT, span)),
  };
}

/** Who this call's Kubernetes requests are for, with the session's clients. */
export function caller(ctx: CallContext): KubeCaller {
  return {
    user: ctx.session.user,
    groups: ctx.session.groups,
    clients: ctx.session.kube.clients({ traceId: ctx.traceId }),
  };
}

/** The pod and container a call names; no container: the pod's default container (a Kubernetes read). */
export async function resolvePodTarget(ctx: CallContext, target: Target | null): Promise<PodTarget> {
  const namespace = targetNamespace(target?.namespace, ctx.session.scope);
  const pod = target?.pod ?? '';
  if (!pod) throw new AirlockError('USAGE', 'a pod is required');
  const container = target?.container || (await ctx.kube.defaultContainer(namespace, pod, caller(ctx)));
  return { namespace, pod, container };
}

/**
 * A signal that aborts when the caller cancels the call (the mediator went
 * away or gave up): the stream's Kubernetes side must end too, not linger
 * until the session expires.
 */
export function callerGone(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () =>
    controller.abort(new AirlockError('CLIENT_CANCELLED', 'the caller cancelled the stream')),
  );
  return controller.signal;
}

/** Ends a stream with the error's gRPC status (code and short reason; never the detail). */
export function sendError(call: { emit(event: 'error', value: unknown): boolean }, error: unknown): void {
  call.emit('error', toGrpcError(error));
}

/** A unary handler: its span is active while `handler` runs; the result or error goes to the callback. */
export function unary<Req, Res>(
  rt: ExecutorRuntime,
  method: string,
  handler: (call: grpc.ServerUnaryCall<Req, Res>, span: Span) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const span = rpcSpan(rt, method, call);
    // Active while the handler runs, so its log lines carry the span's ids (services/core/observability/logging.ts).
    const handled = otelContext.with(trace.setSpan(ROOT_CONTEXT, span), () => handler(call, span));
    handled.then(
      (response) => {
        endSpan(span);
        callback(null, response);
      },
      (error: unknown) => {
        endSpan(span, error);
        callback(toGrpcError(error) as grpc.ServiceError);
      },
    );
  };
}
