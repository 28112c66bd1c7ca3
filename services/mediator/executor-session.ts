import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { traceIdsOf, traceparentOf } from '../core/observability/telemetry.js';
import type { Scope } from '../core/policy/index.js';
import { ExecutorClient } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import type { OpenSessionResponse } from '../core/rpc/messages.js';
import { type Session, sessionAuditIds } from '../core/session/session.js';
import { sessionBindingDigest } from '../core/session/session-binding.js';
import { issueSessionGrant } from '../core/x509/index.js';
import type { CommandContext } from './command-context.js';
import {
  type ConnectionState,
  type FrontendContext,
  OPEN_SESSION_TIMEOUT_MS,
  type OpenedSession,
  verifiedScope,
  WITNESS_INTERVAL_MS,
} from './frontend-context.js';

/**
 * The executor's answer as the session model, converted once on receipt:
 * the user, groups, expiry and ids it granted, with the scope the mediator
 * verified itself from the certificate (what its own checks decide on).
 */
export function sessionOf(response: OpenSessionResponse, scope: Scope): Session {
  return {
    id: response.session_id,
    requestId: response.request_id,
    user: response.user,
    groups: [...response.groups],
    scope,
    expiresAtMs: response.expires_at_ms,
  };
}

/** A fresh executor channel authenticated by a session grant that ends with the certificate. */
async function connectWithGrant(ctx: FrontendContext, state: ConnectionState, sessionId: string) {
  const { deps } = ctx;
  const identity = state.identity!;
  // The grant ends with the certificate (admission refused one without an end), or earlier
  // where the mediator CA's own lifetime or MAX_SESSION_GRANT_SECONDS cap it.
  const grant = await issueSessionGrant(await deps.mediatorCa(), {
    sessionId,
    user: identity.principal,
    scopeDigest: sessionBindingDigest(identity),
    notAfter: new Date(Number(identity.validBefore) * 1000),
    now: deps.clock(),
  });
  state.span.addEvent('session.grant_issued');
  return new ExecutorClient({
    address: deps.executor.address,
    executorCaPem: deps.executor.caPem(),
    grantCertPem: grant.certPem,
    grantKeyPem: grant.privateKeyPem!,
    sessionId,
    ...(deps.executor.serverName ? { serverName: deps.executor.serverName } : {}),
  });
}

function witnessContext(sessionId: string, traceId: string | undefined) {
  return { session_id: sessionId, ...(traceId === undefined ? {} : { trace_id: traceId }) };
}

/**
 * Exchanges checkpoint heads with the executor every `witnessIntervalMs`
 * while the session is open; returns the stop function. A failed exchange is
 * logged and tried again at the next tick: the session goes on (witnessing
 * detects cuts after the fact; it does not gate actions).
 */
function startWitnessing(
  ctx: FrontendContext,
  client: ExecutorClient,
  sessionId: string,
  traceparent: string,
): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    client
      .witness(ctx.witness.ownHead(), { traceparent })
      .then((head) => ctx.witness.record(head, witnessContext(sessionId, undefined)))
      .catch((error: unknown) =>
        ctx.log.warn({ err: error, session_id: sessionId }, 'checkpoint witness failed'),
      )
      .finally(() => {
        busy = false;
      });
  }, ctx.deps.witnessIntervalMs ?? WITNESS_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Stage 3, the executor session: one session grant per SSH connection
 * (issued by the mediator tier CA), an mTLS channel to the executor with it,
 * and OpenSession carrying the login for the executor to verify again.
 * Audited as `session.opened`. The client is closed if OpenSession fails.
 */
export async function openExecutorSession(
  ctx: FrontendContext,
  state: ConnectionState,
): Promise<OpenedSession> {
  const identity = state.identity!;
  const scope = verifiedScope(state);
  const sessionId = randomBytes(12).toString('hex');
  const client = await connectWithGrant(ctx, state, sessionId);
  state.span.setAttribute('airlock.session_id', sessionId);
  const traceparent = traceparentOf(state.span)!;
  try {
    const response = await client.openSession(
      {
        ssh_certificate: Buffer.from(state.certificate!),
        auth_signature: Buffer.from(state.signature!),
        auth_signed_data: Buffer.from(state.signedData!),
        client_address: state.address,
        session_id: sessionId,
        principal: identity.principal,
        witness_head: ctx.witness.ownHead(),
      },
      {
        traceparent,
        deadline: new Date(Date.now() + (ctx.deps.executor.openTimeoutMs ?? OPEN_SESSION_TIMEOUT_MS)),
      },
    );
    const session = sessionOf(response, scope);
    const traceId = traceIdsOf(state.span).traceId;
    // A malformed head from the executor refuses the session (AUDIT_WITNESS_INVALID).
    await ctx.witness.record(response.witness_head, witnessContext(sessionId, traceId));
    state.span.addEvent('executor.session_opened');
    void ctx.audit({
      event: 'session.opened',
      actor: { user: identity.principal, groups: [...session.groups], address: state.address },
      target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
      decision: 'allow',
      ...sessionAuditIds(session),
      trace_id: traceIdsOf(state.span).traceId,
      details: {
        key_id: identity.keyId,
        serial: identity.serial.toString(),
        expires_at: new Date(session.expiresAtMs).toISOString(),
      },
    });
    return {
      client,
      session,
      traceparent,
      stopWitness: startWitnessing(ctx, client, sessionId, traceparent),
    };
  } catch (error) {
    client.close();
    throw error;
  }
}

/**
 * Opens the executor session in the background right after authentication
 * (commands wait on `state.opened`), with its metrics and span outcome;
 * `onOpened` runs once it is open.
 */
export function startExecutorSession(
  ctx: FrontendContext,
  state: ConnectionState,
  onOpened: (opened: OpenedSession) => void,
): void {
  const { metrics } = ctx;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  state.opened = openExecutorSession(ctx, state);
  state.opened.then(
    (opened) => {
      state.span.setAttribute('airlock.decision', 'allow');
      metrics.sessionsOpened.inc({ result: 'opened' });
      metrics.sessionOpenSeconds.observe(seconds(), { result: 'opened' });
      onOpened(opened);
    },
    (error: unknown) => {
      const refused = fromGrpcError(error);
      const code = refused.code;
      state.span.setAttributes({ 'airlock.decision': 'deny', 'airlock.code': code });
      state.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      metrics.sessionsOpened.inc({ result: code });
      metrics.sessionOpenSeconds.observe(seconds(), { result: code });
      // The detail (e.g. gRPC's own words for an unreachable executor) is for operators, not the user.
      ctx.log.info(
        { code, ...(refused.detail ? { detail: refused.detail } : {}) },
        'executor refused the session',
      );
    },
  );
}

/**
 * The connection closed: CloseSession (best effort), the channel closed,
 * `session.closed` audited. Resolves once that is done, at once when no
 * session was opened.
 */
export async function closeExecutorSession(ctx: FrontendContext, state: ConnectionState): Promise<void> {
  const opened = await state.opened?.catch(() => undefined);
  if (!opened) return;
  opened.stopWitness();
  const head = await opened.client
    .closeSession({ traceparent: opened.traceparent, witnessHead: ctx.witness.ownHead() })
    .catch(() => '');
  await ctx.witness
    .record(head, witnessContext(opened.session.id, undefined))
    .catch((error: unknown) => ctx.log.error({ err: error }, 'executor checkpoint head not recorded'));
  opened.client.close();
  void ctx.audit({
    event: 'session.closed',
    actor: { user: opened.session.user, address: state.address },
    target: { cluster: opened.session.scope.cluster, namespace: opened.session.scope.namespace },
    ...sessionAuditIds(opened.session),
  });
}

/** What every command and forward of this connection runs against. */
export function commandContext(
  ctx: FrontendContext,
  opened: OpenedSession,
  state: ConnectionState,
): CommandContext {
  const { deps } = ctx;
  return {
    client: opened.client,
    session: opened.session,
    policy: deps.policy,
    audit: deps.audit,
    clock: deps.clock,
    traceparent: opened.traceparent,
    tracer: ctx.tracer,
    traceContext: trace.setSpan(ROOT_CONTEXT, state.span),
    clientAddress: state.address,
    ...(deps.recordings ? { recordings: deps.recordings } : {}),
    ...(state.live ? { live: state.live } : {}),
  };
}
