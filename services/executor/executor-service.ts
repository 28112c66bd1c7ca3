import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type * as grpc from '@grpc/grpc-js';
import {
  context as otelContext,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AuditEventInput, AuditTrail } from '../core/audit/types.js';
import { admitLogin } from '../core/certificate-admission.js';
import { AirlockError } from '../core/errors.js';
import { Metrics } from '../core/ops-server.js';
import {
  type AuthorizeResult,
  authorizeIntent,
  type Intent,
  type Policy,
  renderGroups,
} from '../core/policy/index.js';
import { SESSION_METADATA_KEY } from '../core/rpc/executor-proto.js';
import { toGrpcError } from '../core/rpc/grpc-errors.js';
import type {
  DebugStart,
  ExecInput,
  ExecOutput,
  ExecStart,
  GetRequest,
  ListRequest,
  LogsRequest,
  ObjectResponse,
  OpenSessionRequest,
  OpenSessionResponse,
  PortForwardInput,
  Target,
} from '../core/rpc/messages.js';
import { sessionBindingDigest } from '../core/session-binding.js';
import { scopeOf } from '../core/session-scope.js';
import {
  parseCertificate,
  type RevocationList,
  type SshPublicKey,
  verifyCertificateWithoutSession,
} from '../core/ssh-cert/index.js';
import { contextFromTraceparent, defaultTracer, endSpan, traceIdsOf } from '../core/telemetry.js';
import { sessionGrantFromCertificate, verifyPeerCertificate } from '../core/x509/index.js';
import { certificateDenial } from './certificate-restrictions.js';
import type { KubeCredentials, SessionKubeCredentials } from './kube-credentials.js';
import {
  type KubeCaller,
  type KubeGateway,
  type ObjectKind,
  type PodTarget,
  withKubeSpans,
} from './kube-gateway.js';
import { filterListToScope, redactEnv } from './object-scope.js';
import { type ExecutorSession, SessionRegistry } from './session-registry.js';
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

const OBJECT_KINDS: ReadonlySet<string> = new Set<ObjectKind>([
  'pods',
  'events',
  'deployments',
  'replicasets',
  'nodes',
  'namespaces',
]);
const CLUSTER_KINDS: ReadonlySet<string> = new Set(['nodes', 'namespaces']);

interface CallContext {
  session: ExecutorSession;
  /** The RPC span (`executor.<Method>`). */
  span: Span;
  /** The RPC span's ids: in audit records and (trace id) in Impersonate-Extra. */
  traceId: string | undefined;
  spanId: string | undefined;
  /** The Kubernetes gateway with a `kube.*` span around each call, children of the RPC span. */
  kube: KubeGateway;
}

type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>;

function peerCertificateDer(call: AnyCall): Buffer {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (!raw || raw.length === 0) {
    throw new AirlockError('GRANT_INVALID', 'a session grant (mTLS client certificate) is required');
  }
  return raw;
}

/**
 * A signal that aborts when the caller cancels the call (the mediator went
 * away or gave up): the stream's Kubernetes side must end too, not linger
 * until the session expires.
 */
function callerGone(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () =>
    controller.abort(new AirlockError('CLIENT_CANCELLED', 'the caller cancelled the stream')),
  );
  return controller.signal;
}

function sendError(call: { emit(event: 'error', value: unknown): boolean }, error: unknown): void {
  call.emit('error', toGrpcError(error));
}

/**
 * The executor's gRPC handlers. Nothing the mediator says is taken on
 * trust: OpenSession verifies the SSH certificate and binds it to the
 * presented grant; every intent is re-authorized against the certificate's
 * scope and the policy, and audited durably before it runs.
 */
export function createExecutorService(deps: ExecutorDeps) {
  const log = deps.logger.child({ component: 'executor.service' });
  const tracer = deps.tracer ?? defaultTracer('airlock.executor');

  /** `executor.<method>`: a server span continuing the caller's traceparent, if it sent one. */
  function rpcSpan(method: string, call: AnyCall): Span {
    return tracer.startSpan(
      `executor.${method}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'rpc.system': 'grpc', 'rpc.service': 'airlock.v1.Executor', 'rpc.method': method },
      },
      contextFromTraceparent(call.metadata.get('traceparent')[0]),
    );
  }
  const metrics = deps.metrics ?? new Metrics();
  const intentsTotal = metrics.counter(
    'airlock_executor_intents_total',
    'Intents by action, decision and code',
    ['action', 'decision', 'code'],
  );
  const sessionsTotal = metrics.counter(
    'airlock_executor_session_opens_total',
    'OpenSession calls by decision and code',
    ['decision', 'code'],
  );
  const sessionsActive = metrics.gauge('airlock_executor_sessions_active', 'Sessions open at the executor');
  const authorizeSeconds = metrics.histogram(
    'airlock_executor_intent_authorize_duration_seconds',
    'Policy decision plus its durable audit record, per intent, by action and decision',
    ['action', 'decision'],
  );
  const sessions = new SessionRegistry(
    deps.clock,
    (session) => {
      void audit({
        event: 'session.expired',
        actor: { user: session.user },
        target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
        code: 'SESSION_EXPIRED',
        session_id: session.id,
        request_id: session.scope.requestId,
      });
    },
    // However a session ends, its Kubernetes credentials end with it (csr mode: the CSR is deleted).
    (session) => void session.kube.release(),
  );
  let draining = false;
  /** OpenSession calls past the session limit check and not yet ended, by user. */
  const opening = new Map<string, number>();

  /**
   * Revocation reaches open sessions too: once a second every session's
   * certificate is checked again against the current revocation lists, and
   * a revoked one is closed at once (its streams end with CERT_REVOKED).
   */
  const revocationSweep = setInterval(() => {
    let lists: readonly RevocationList[];
    try {
      lists = deps.revocation();
    } catch (error) {
      log.error({ err: error }, 'revocation lists unreadable; closing every session');
      const reason = new AirlockError('CERT_REVOKED', 'revocation status cannot be checked');
      for (const session of sessions.sweep(() => reason)) auditRevoked(session, reason);
      return;
    }
    const closed = sessions.sweep((session) => {
      try {
        verifyCertificateWithoutSession(session.certificate, {
          trustedCAs: deps.trustedSshCas(),
          principal: session.user,
          now: deps.clock(),
          revocation: lists,
          clientAddress: session.clientAddress,
        });
        return undefined;
      } catch (error) {
        return error instanceof AirlockError && error.code === 'CERT_REVOKED' ? error : undefined;
      }
    });
    for (const session of closed)
      auditRevoked(session, new AirlockError('CERT_REVOKED', 'certificate revoked'));
    if (closed.length > 0) sessionsActive.set(sessions.size);
  }, 1000);
  revocationSweep.unref();

  function auditRevoked(session: ExecutorSession, reason: AirlockError): void {
    void deps.audit
      .append({
        event: 'session.closed',
        actor: { user: session.user, address: session.clientAddress },
        target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
        decision: 'deny',
        code: reason.code,
        reason: reason.message,
        session_id: session.id,
        request_id: session.scope.requestId,
      })
      .catch((error: unknown) => log.error({ err: error }, 'could not audit a revoked session'));
  }

  async function audit(event: AuditEventInput): Promise<void> {
    await deps.audit.append(event);
  }

  /** The grant presented on this call, verified against the mediator CA bundle. */
  async function verifiedGrant(call: AnyCall) {
    const der = peerCertificateDer(call);
    let verified: Awaited<ReturnType<typeof verifyPeerCertificate>>;
    try {
      verified = await verifyPeerCertificate(der, {
        trustedCas: deps.mediatorCas(),
        usage: 'client',
        now: deps.clock(),
        expectedTier: 'mediator',
      });
    } catch (error) {
      // A grant ends with its session: report an expired one as the session's expiry.
      if (error instanceof AirlockError && error.code === 'X509_EXPIRED') {
        throw new AirlockError('SESSION_EXPIRED', 'session expired', { cause: error });
      }
      throw new AirlockError('GRANT_INVALID', 'the session grant is not valid', {
        detail: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
    try {
      // The certificate the verifier already parsed: the grant is read from the very bytes it verified.
      return sessionGrantFromCertificate(verified.certificate);
    } catch (error) {
      throw new AirlockError('GRANT_INVALID', 'the client certificate is not a session grant', {
        cause: error,
      });
    }
  }

  /** Authenticates an intent call: a live session, opened with the very grant presented now. */
  async function context(call: AnyCall, span: Span): Promise<CallContext> {
    if (!deps.audit.healthy()) throw new AirlockError('AUDIT_UNAVAILABLE', 'the audit trail is unavailable');
    if (draining) throw new AirlockError('EXECUTOR_SHUTDOWN', 'the executor is shutting down');
    const id = call.metadata.get(SESSION_METADATA_KEY)[0];
    if (typeof id !== 'string') throw new AirlockError('GRANT_INVALID', 'the call names no session');
    // TLS verified the grant's chain at the handshake, and OpenSession verified
    // this very certificate in full and bound its fingerprint to the session:
    // matching the fingerprint is enough here, and keeps per-intent cost low.
    const fingerprint = createHash('sha256').update(peerCertificateDer(call)).digest('hex');
    const session = sessions.get(id, fingerprint);
    span.setAttributes({ 'airlock.session_id': session.id, 'enduser.id': session.user });
    return {
      session,
      span,
      ...traceIdsOf(span),
      kube: withKubeSpans(deps.kube, tracer, trace.setSpan(ROOT_CONTEXT, span)),
    };
  }

  /** Who this call's Kubernetes requests are for, with the session's clients. */
  function caller(ctx: CallContext): KubeCaller {
    return {
      user: ctx.session.user,
      groups: ctx.session.groups,
      clients: ctx.session.kube.clients({ traceId: ctx.traceId }),
    };
  }

  function baseEvent(
    ctx: CallContext,
  ): Pick<AuditEventInput, 'actor' | 'session_id' | 'request_id' | 'trace_id' | 'span_id'> {
    return {
      actor: { user: ctx.session.user, groups: [...ctx.session.groups], address: ctx.session.clientAddress },
      session_id: ctx.session.id,
      request_id: ctx.session.scope.requestId,
      trace_id: ctx.traceId,
      span_id: ctx.spanId,
    };
  }

  /** Policy check of one intent, audited durably either way; throws the denial. */
  async function authorize(
    ctx: CallContext,
    intent: Intent,
    target: AuditEventInput['target'],
  ): Promise<void> {
    const session = ctx.session;
    const started = performance.now();
    const restricted = certificateDenial(session.identity, intent, session.scope.namespace);
    // The scope of the certificate this executor verified itself, never the mediator's word.
    const decision: AuthorizeResult = restricted
      ? { allow: false, ...restricted }
      : authorizeIntent(deps.policy(), scopeOf(session.scope), { ...intent, cluster: deps.cluster });
    intentsTotal.inc({
      action: intent.action,
      decision: decision.allow ? 'allow' : 'deny',
      code: decision.allow ? '' : decision.code,
    });
    if (decision.allow) {
      await deps.audit.append(
        {
          ...baseEvent(ctx),
          event: 'intent.allowed',
          target,
          decision: 'allow',
          details: { action: intent.action, rule: decision.rule },
        },
        { durable: true },
      );
      authorizeSeconds.observe((performance.now() - started) / 1000, {
        action: intent.action,
        decision: 'allow',
      });
      ctx.span.addEvent('intent.authorized');
      return;
    }
    await deps.audit.append(
      {
        ...baseEvent(ctx),
        event: 'intent.denied',
        target,
        decision: 'deny',
        code: decision.code,
        reason: decision.reason,
        details: { action: intent.action, ...(decision.rule ? { rule: decision.rule } : {}) },
      },
      { durable: true },
    );
    authorizeSeconds.observe((performance.now() - started) / 1000, {
      action: intent.action,
      decision: 'deny',
    });
    throw new AirlockError(decision.code, decision.reason);
  }

  async function resolveTarget(ctx: CallContext, target: Target | null): Promise<PodTarget> {
    const namespace = target?.namespace || ctx.session.scope.namespace;
    const pod = target?.pod ?? '';
    if (!pod) throw new AirlockError('USAGE', 'a pod is required');
    const container = target?.container || (await ctx.kube.defaultContainer(namespace, pod, caller(ctx)));
    return { namespace, pod, container };
  }

  /** Audits a failure of an allowed action (RBAC denial, Kubernetes error, expiry). */
  async function auditFailure(
    ctx: CallContext | undefined,
    event: AuditEventInput['event'],
    target: AuditEventInput['target'],
    error: unknown,
  ) {
    const airlock =
      error instanceof AirlockError
        ? error
        : new AirlockError('INTERNAL', 'internal error', { cause: error });
    if (airlock.code === 'INTERNAL') log.error({ err: error }, 'intent failed');
    try {
      await deps.audit.append({
        ...(ctx ? baseEvent(ctx) : { actor: {} }),
        event,
        target,
        decision: 'deny',
        code: airlock.code,
        reason: airlock.message,
      });
    } catch (auditError) {
      log.error({ err: auditError }, 'could not audit a failure');
    }
  }

  /**
   * Writes one input chunk from `call` into `into`; while `into` is full
   * (the Kubernetes side is not taking input: kube-gateway's pumpInput), the
   * call is not read, so HTTP/2 flow control pushes back on the mediator and
   * the executor holds at most the streams' own small buffers.
   */
  function writeInput(call: { pause(): void; resume(): void }, into: Writable, chunk: Buffer): void {
    if (!into.write(chunk)) {
      call.pause();
      into.once('drain', () => call.resume());
    }
  }

  /** A Writable that forwards chunks as gRPC messages, honouring the call's backpressure. */
  function grpcWritable<T>(
    call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
    wrap: (chunk: Buffer) => T,
    count: { bytes: number },
  ) {
    return new Writable({
      write(chunk: Buffer, _encoding, done) {
        // The call may already have ended with an error (expiry, shutdown).
        if (call.writableEnded || call.destroyed) return done();
        count.bytes += chunk.length;
        if (call.write(wrap(chunk))) done();
        else call.once('drain', () => done());
      },
    });
  }

  async function openSession(
    call: grpc.ServerUnaryCall<OpenSessionRequest, OpenSessionResponse>,
    span: Span,
  ): Promise<OpenSessionResponse> {
    const request = call.request;
    const ids = traceIdsOf(span);
    const actor = { user: request.principal, address: request.client_address };
    /** Released here if the session is refused after they were made; otherwise the session owns them. */
    let kube: SessionKubeCredentials | undefined;
    /** The user whose session count this call holds a place in until it ends. */
    let reserved: string | undefined;
    try {
      if (!deps.audit.healthy())
        throw new AirlockError('AUDIT_UNAVAILABLE', 'the audit trail is unavailable');
      if (draining) throw new AirlockError('EXECUTOR_SHUTDOWN', 'the executor is shutting down');
      const grant = await verifiedGrant(call);
      if (grant.sessionId !== request.session_id) {
        throw new AirlockError('GRANT_INVALID', 'the session grant is for another session');
      }
      const now = deps.clock();
      const certificate = parseCertificate(request.ssh_certificate);
      // The certificate as the mediator checks it, and the user's signature over a real
      // publickey login for it. client_address is the mediator's word (source-address).
      const { identity } = admitLogin(certificate, request.auth_signature, request.auth_signed_data, {
        trustedCAs: deps.trustedSshCas(),
        principal: request.principal,
        now,
        clientAddress: request.client_address,
        revocation: deps.revocation(),
        policy: deps.policy(),
      });
      const scope = identity.scope;
      if (grant.user !== identity.principal || grant.scopeDigest !== sessionBindingDigest(identity)) {
        throw new AirlockError('GRANT_INVALID', 'the session grant does not match the certificate', {
          detail: `grant user ${grant.user}, certificate principal ${identity.principal}`,
        });
      }
      if (scope.cluster !== deps.cluster) {
        throw new AirlockError(
          'SCOPE_CLUSTER',
          `this executor serves cluster ${deps.cluster}, not ${scope.cluster}`,
        );
      }
      const policy = deps.policy();
      const profile = policy.profiles[scope.profile];
      if (!profile)
        throw new AirlockError('PROFILE_UNKNOWN', `profile ${scope.profile} is not in the policy`);
      const groups = renderGroups(profile, scope);
      const extraGroups = scope.groups.filter((g) => !groups.includes(g));
      if (extraGroups.length > 0) {
        throw new AirlockError(
          'CERT_SCOPE_INVALID',
          'the certificate names groups its profile does not grant',
          {
            detail: extraGroups.join(', '),
          },
        );
      }
      const certEnd = Number(identity.validBefore) * 1000;
      if (grant.notAfter.getTime() > certEnd) {
        throw new AirlockError('GRANT_INVALID', 'the session grant outlives the certificate', {
          detail: `grant notAfter ${grant.notAfter.toISOString()}, certificate valid before ${identity.validBefore}`,
        });
      }
      // Sessions still opening count too, so concurrent OpenSessions cannot overshoot.
      const user = identity.principal;
      if (sessions.countFor(user) + (opening.get(user) ?? 0) >= deps.maxSessionsPerUser) {
        throw new AirlockError('LIMIT_EXCEEDED', `at most ${deps.maxSessionsPerUser} sessions per user`);
      }
      opening.set(user, (opening.get(user) ?? 0) + 1);
      reserved = user;
      // Last of the checks: a login refused above may be tried again on a new connection anyway.
      deps.usedSignatures.admit({
        signedData: request.auth_signed_data,
        validAfter: identity.validAfter,
        validBefore: identity.validBefore,
      });
      const expiresAt = new Date(Math.min(certEnd, grant.notAfter.getTime()));
      kube = await openKubeCredentials(span, {
        sessionId: grant.sessionId,
        user: identity.principal,
        groups,
        requestId: scope.requestId,
        expiresAt,
      });
      const session: ExecutorSession = {
        id: grant.sessionId,
        user: identity.principal,
        identity,
        certificate,
        scope,
        groups,
        grantFingerprint: grant.fingerprint,
        clientAddress: request.client_address,
        expiresAt,
        kube,
      };
      span.addEvent('session.verified');
      await deps.audit.append(
        {
          event: 'session.opened',
          actor: { ...actor, groups },
          target: { cluster: scope.cluster, namespace: scope.namespace },
          decision: 'allow',
          session_id: session.id,
          request_id: scope.requestId,
          trace_id: ids.traceId,
          span_id: ids.spanId,
          details: {
            profile: scope.profile,
            key_id: identity.keyId,
            serial: identity.serial.toString(),
            ca: identity.caFingerprint,
            expires_at: expiresAt.toISOString(),
          },
        },
        { durable: true },
      );
      sessions.open(session);
      kube = undefined;
      sessionsTotal.inc({ decision: 'allow', code: '' });
      sessionsActive.set(sessions.size);
      return {
        session_id: session.id,
        user: session.user,
        groups: [...groups],
        profile: scope.profile,
        cluster: scope.cluster,
        namespace: scope.namespace,
        pod_patterns: [...scope.podPatterns],
        expires_at_ms: expiresAt.getTime(),
        request_id: scope.requestId,
      };
    } catch (error) {
      await kube?.release();
      const airlock =
        error instanceof AirlockError
          ? error
          : new AirlockError('INTERNAL', 'internal error', { cause: error });
      if (airlock.code === 'KUBE_CREDENTIALS_UNAVAILABLE') log.error({ err: error }, airlock.detail);
      sessionsTotal.inc({ decision: 'deny', code: airlock.code });
      await deps.audit
        .append(
          {
            event: 'auth.denied',
            actor,
            target: {},
            decision: 'deny',
            code: airlock.code,
            reason: airlock.detail ? `${airlock.message}: ${airlock.detail}` : airlock.message,
            session_id: request.session_id || undefined,
            trace_id: ids.traceId,
            span_id: ids.spanId,
          },
          { durable: true },
        )
        .catch((auditError: unknown) => log.error({ err: auditError }, 'could not audit a refused session'));
      throw airlock;
    } finally {
      if (reserved !== undefined) {
        const left = (opening.get(reserved) ?? 1) - 1;
        if (left <= 0) opening.delete(reserved);
        else opening.set(reserved, left);
      }
    }
  }

  /** The session's Kubernetes credentials, in a `kube.credentials` span (csr mode: a CSR round trip). */
  async function openKubeCredentials(
    parent: Span,
    subject: Parameters<KubeCredentials['open']>[0],
  ): Promise<SessionKubeCredentials> {
    const span = tracer.startSpan(
      'kube.credentials',
      { kind: SpanKind.CLIENT, attributes: { 'airlock.kube.credentials': deps.kubeCredentials.mode } },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    try {
      const credentials = await deps.kubeCredentials.open(subject);
      endSpan(span);
      return credentials;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  function unary<Req, Res>(
    method: string,
    handler: (call: grpc.ServerUnaryCall<Req, Res>, span: Span) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const span = rpcSpan(method, call);
      // Active while the handler runs, so its log lines carry the span's ids (services/core/logging.ts).
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

  /** Exec and Debug share one stream handler; Debug first adds the ephemeral container. */
  function execStream(kind: 'exec' | 'debug'): grpc.handleBidiStreamingCall<ExecInput, ExecOutput> {
    return (call) => {
      let ctx: CallContext | undefined;
      const stdin = new PassThrough();
      const resize = new PassThrough({ objectMode: true });
      let started = false;
      let bytesIn = 0;
      const onFrame = (frame: ExecInput) => {
        if (frame.frame === 'stdin') {
          // Input after stdin EOF has nowhere to go; writing it would fail the stream.
          if (stdin.writableEnded) return;
          bytesIn += frame.stdin.length;
          writeInput(call, stdin, frame.stdin);
        } else if (frame.frame === 'stdin_eof') stdin.end();
        else if (frame.frame === 'resize') resize.write(frame.resize);
      };
      call.on('data', (frame: ExecInput) => {
        // Frames after the first go straight into the (buffering) streams,
        // in arrival order, even while the start is still being authorized.
        if (started) return onFrame(frame);
        started = true;
        void run(frame);
      });
      call.on('end', () => stdin.end());

      const run = async (first: ExecInput) => {
        const startedAt = Date.now();
        const bytes = { out: { bytes: 0 }, err: { bytes: 0 } };
        let target: AuditEventInput['target'] = {};
        let tracked: { signal: AbortSignal; done: () => void } | undefined;
        const span = rpcSpan(kind === 'exec' ? 'Exec' : 'Debug', call);
        let failure: unknown;
        try {
          ctx = await context(call, span);
          const start: ExecStart | DebugStart | undefined =
            kind === 'exec'
              ? first.frame === 'start'
                ? first.start
                : undefined
              : first.frame === 'debug'
                ? first.debug
                : undefined;
          if (!start)
            throw new AirlockError('USAGE', `the first frame must be ${kind === 'exec' ? 'start' : 'debug'}`);
          const namespace = start.target?.namespace || ctx.session.scope.namespace;
          const pod = start.target?.pod ?? '';
          let argv = [...start.argv];
          if (kind === 'exec') {
            const execStart = start as ExecStart;
            const action = execStart.shell ? 'shell' : 'exec';
            target = { cluster: deps.cluster, namespace, pod, resource: 'pods/exec', argv };
            await authorize(
              ctx,
              {
                action,
                namespace,
                pod,
                container: start.target?.container ?? '',
                argv: action === 'shell' && argv.length === 0 ? undefined : argv,
                tty: start.tty,
              },
              target,
            );
            if (action === 'shell' && argv.length === 0) {
              argv = [
                ...(deps.policy().profiles[ctx.session.scope.profile]?.actions.shell?.argv[0] ?? ['sh']),
              ];
            }
          } else {
            const debug = start as DebugStart;
            target = { cluster: deps.cluster, namespace, pod, resource: 'pods/ephemeralcontainers', argv };
            await authorize(
              ctx,
              {
                action: 'debug',
                namespace,
                pod,
                image: debug.image,
                tty: debug.tty,
                container: start.target?.container ?? '',
              },
              target,
            );
          }
          const as = caller(ctx);
          let podTarget: PodTarget;
          if (kind === 'debug') {
            const debug = start as DebugStart;
            const name = `airlock-debug-${randomBytes(3).toString('hex')}`;
            if (argv.length === 0) argv = ['sh'];
            await ctx.kube.addEphemeralContainer(
              { namespace, pod },
              { name, image: debug.image, command: argv, tty: debug.tty },
              as,
            );
            await deps.audit.append({
              ...baseEvent(ctx),
              event: 'debug.added',
              target: { ...target, container: name },
              details: { image: debug.image },
            });
            podTarget = { namespace, pod, container: name };
          } else {
            podTarget = await resolveTarget(ctx, start.target);
          }
          target = { ...target, container: podTarget.container };
          const stdout = grpcWritable(call, (chunk) => ({ stdout: chunk }), bytes.out);
          const stderr = grpcWritable(call, (chunk) => ({ stderr: chunk }), bytes.err);
          if (start.tty) {
            // client-node resizes a tty when stdout looks like a terminal.
            const terminal = stdout as Writable & { columns: number; rows: number };
            terminal.columns = start.size?.width ?? 80;
            terminal.rows = start.size?.height ?? 24;
            resize.on('data', (size: { width: number; height: number }) => {
              terminal.columns = size.width;
              terminal.rows = size.height;
              stdout.emit('resize');
            });
          }
          tracked = sessions.track(ctx.session.id, callerGone(call));
          await deps.audit.append({
            ...baseEvent(ctx),
            event: 'exec.started',
            target,
            details: { tty: start.tty },
          });
          log.debug({ argv, podTarget }, 'exec starting');
          const result = await ctx.kube.exec(
            podTarget,
            argv,
            start.tty,
            { stdin, stdout, stderr },
            as,
            tracked.signal,
          );
          log.debug({ result }, 'exec returned');
          // Every output byte is on the wire before the exit status.
          await Promise.all([finished(stdout), finished(stderr)]);
          await deps.audit.append({
            ...baseEvent(ctx),
            event: 'exec.exited',
            target,
            details: {
              exit_code: result.code,
              bytes_in: bytesIn,
              bytes_out: bytes.out.bytes,
              bytes_err: bytes.err.bytes,
              duration_ms: Date.now() - startedAt,
            },
          });
          span.setAttribute('airlock.exit_code', result.code);
          call.write({ exit: { code: result.code, signal: '' } });
          call.end();
        } catch (error) {
          failure = error;
          log.debug({ err: error }, 'exec failed');
          if (ctx && !(error instanceof AirlockError && isPolicyDenial(error)))
            await auditFailure(ctx, 'exec.exited', target, error);
          if (!ctx) await auditFailure(undefined, 'auth.denied', target, error);
          sendError(call, error);
        } finally {
          tracked?.done();
          endSpan(span, failure);
        }
      };
    };
  }

  const service = {
    OpenSession: unary<OpenSessionRequest, OpenSessionResponse>('OpenSession', openSession),

    CloseSession: unary<object, object>('CloseSession', async (call, span) => {
      const ctx = await context(call, span);
      const session = sessions.close(ctx.session.id, new AirlockError('SESSION_EXPIRED', 'session closed'));
      sessionsActive.set(sessions.size);
      if (session) {
        await deps.audit.append({
          ...baseEvent(ctx),
          event: 'session.closed',
          target: { cluster: session.scope.cluster, namespace: session.scope.namespace },
        });
      }
      return {};
    }),

    Exec: execStream('exec'),
    Debug: execStream('debug'),

    Logs: ((call: grpc.ServerWritableStream<LogsRequest, { data: Buffer }>) => {
      void (async () => {
        let ctx: CallContext | undefined;
        let target: AuditEventInput['target'] = {};
        let tracked: { signal: AbortSignal; done: () => void } | undefined;
        const count = { bytes: 0 };
        const span = rpcSpan('Logs', call);
        let failure: unknown;
        try {
          ctx = await context(call, span);
          const request = call.request;
          const namespace = request.target?.namespace || ctx.session.scope.namespace;
          const pod = request.target?.pod ?? '';
          target = { cluster: deps.cluster, namespace, pod, resource: 'pods/log' };
          const container = request.target?.container ?? '';
          await authorize(ctx, { action: 'logs', namespace, pod, container }, target);
          const podTarget = await resolveTarget(ctx, request.target);
          target = { ...target, container: podTarget.container };
          tracked = sessions.track(ctx.session.id, callerGone(call));
          const out = grpcWritable(call, (chunk) => ({ data: chunk }), count);
          await ctx.kube.logs(
            podTarget,
            {
              follow: request.follow,
              sinceSeconds: request.since_seconds > 0 ? request.since_seconds : undefined,
              tailLines: request.tail_lines >= 0 && request.tail_lines !== 0 ? request.tail_lines : undefined,
              timestamps: request.timestamps,
            },
            out,
            caller(ctx),
            tracked.signal,
          );
          if (tracked.signal.aborted) throw tracked.signal.reason;
          await deps.audit.append({
            ...baseEvent(ctx),
            event: 'logs.streamed',
            target,
            details: { bytes_out: count.bytes, follow: request.follow },
          });
          call.end();
        } catch (error) {
          failure = error;
          if (ctx && !(error instanceof AirlockError && isPolicyDenial(error)))
            await auditFailure(ctx, 'logs.streamed', target, error);
          if (!ctx) await auditFailure(undefined, 'auth.denied', target, error);
          sendError(call, error);
        } finally {
          tracked?.done();
          endSpan(span, failure);
        }
      })();
    }) as grpc.handleServerStreamingCall<LogsRequest, { data: Buffer }>,

    PortForward: ((call: grpc.ServerDuplexStream<PortForwardInput, { data: Buffer }>) => {
      let ctx: CallContext | undefined;
      const input = new PassThrough();
      let started = false;
      let bytesIn = 0;
      call.on('data', (frame: PortForwardInput) => {
        if (!started) {
          started = true;
          void run(frame);
        } else if (frame.frame === 'data') {
          bytesIn += frame.data.length;
          writeInput(call, input, frame.data);
        }
      });
      call.on('end', () => input.end());
      const run = async (first: PortForwardInput) => {
        const startedAt = Date.now();
        let target: AuditEventInput['target'] = {};
        let tracked: { signal: AbortSignal; done: () => void } | undefined;
        const count = { bytes: 0 };
        const span = rpcSpan('PortForward', call);
        let failure: unknown;
        try {
          const context_ = await context(call, span);
          if (first.frame !== 'start') throw new AirlockError('USAGE', 'the first frame must be start');
          const namespace = first.start.target?.namespace || context_.session.scope.namespace;
          const pod = first.start.target?.pod ?? '';
          const port = first.start.port;
          target = { cluster: deps.cluster, namespace, pod, resource: 'pods/portforward', port };
          await authorize(context_, { action: 'port-forward', namespace, pod, port }, target);
          ctx = context_;
          tracked = sessions.track(ctx.session.id, callerGone(call));
          await deps.audit.append({ ...baseEvent(ctx), event: 'portforward.opened', target });
          const output = grpcWritable(call, (chunk) => ({ data: chunk }), count);
          await ctx.kube.portForward(
            { namespace, pod, container: '' },
            port,
            input,
            output,
            caller(ctx),
            tracked.signal,
          );
          await deps.audit.append({
            ...baseEvent(ctx),
            event: 'portforward.closed',
            target,
            details: { bytes_in: bytesIn, bytes_out: count.bytes, duration_ms: Date.now() - startedAt },
          });
          if (tracked.signal.aborted) throw tracked.signal.reason;
          call.end();
        } catch (error) {
          failure = error;
          if (ctx && !(error instanceof AirlockError && isPolicyDenial(error)))
            await auditFailure(ctx, 'portforward.closed', target, error);
          if (!ctx && !(error instanceof AirlockError && isPolicyDenial(error)))
            await auditFailure(undefined, 'auth.denied', target, error);
          sendError(call, error);
        } finally {
          tracked?.done();
          endSpan(span, failure);
        }
      };
    }) as grpc.handleBidiStreamingCall<PortForwardInput, { data: Buffer }>,

    Get: unary<GetRequest, ObjectResponse>('Get', async (call, span) => readObjects(call, span, 'get')),
    List: unary<ListRequest, ObjectResponse>('List', async (call, span) => readObjects(call, span, 'list')),
  };

  async function readObjects(
    call: grpc.ServerUnaryCall<GetRequest | ListRequest, ObjectResponse>,
    span: Span,
    action: 'get' | 'list',
  ): Promise<ObjectResponse> {
    const ctx = await context(call, span);
    const request = call.request;
    const kind = request.kind;
    if (!OBJECT_KINDS.has(kind))
      throw new AirlockError('USAGE', `unknown kind ${kind}; one of ${[...OBJECT_KINDS].join(', ')}`);
    const clusterScoped = CLUSTER_KINDS.has(kind);
    const namespace = clusterScoped ? '' : request.namespace || ctx.session.scope.namespace;
    const name = 'name' in request ? request.name : '';
    if (action === 'get' && !name) throw new AirlockError('USAGE', 'get needs a name');
    const target = {
      cluster: deps.cluster,
      namespace: namespace || undefined,
      resource: kind,
      ...(kind === 'pods' && name ? { pod: name } : {}),
    };
    await authorize(
      ctx,
      {
        action,
        namespace: namespace || undefined,
        resource: kind as Intent['resource'],
        ...(kind === 'pods' && name ? { pod: name } : {}),
      },
      target,
    );
    try {
      const as = caller(ctx);
      const object =
        action === 'get'
          ? await ctx.kube.get(kind as ObjectKind, namespace, name, as)
          : await ctx.kube.list(kind as ObjectKind, namespace, as);
      return { json: JSON.stringify(visibleObjects(ctx.session.scope, kind, action, object)) };
    } catch (error) {
      await auditFailure(ctx, 'intent.denied', target, error);
      throw error;
    }
  }

  /** Finding 8: a list shows the session's pods only; env values stay hidden unless the profile reveals them. */
  function visibleObjects(
    scope: ExecutorSession['scope'],
    kind: string,
    action: 'get' | 'list',
    object: unknown,
  ) {
    const profiles = deps.policy().profiles;
    const profile = Object.hasOwn(profiles, scope.profile) ? profiles[scope.profile] : undefined;
    let json: unknown = JSON.parse(JSON.stringify(object ?? null));
    if (action === 'list') {
      // No profile (removed since authorize): no pod is visible.
      json = filterListToScope(kind, json, {
        profilePods: profile?.scope.pods ?? [],
        sessionPods: scope.podPatterns,
      });
    }
    return profile?.revealEnv === true ? json : redactEnv(json);
  }

  return {
    service,
    sessions,
    /** Stop accepting new sessions and intents; open streams continue until `cancelAll`. */
    drain(): void {
      draining = true;
    },
    cancelAll(): void {
      clearInterval(revocationSweep);
      sessions.closeAll(new AirlockError('EXECUTOR_SHUTDOWN', 'the executor is shutting down'));
    },
  };
}

/** Denials already audited by `authorize` (the policy said no). */
function isPolicyDenial(error: AirlockError): boolean {
  return [
    'SCOPE_CLUSTER',
    'SCOPE_NAMESPACE',
    'SCOPE_POD',
    'SCOPE_CONTAINER',
    'SCOPE_RUNBOOK',
    'SCOPE_RUNBOOK_STALE',
    'ACTION_NOT_ALLOWED',
    'COMMAND_NOT_ALLOWED',
    'COMMAND_DENIED',
    'PORT_NOT_ALLOWED',
    'IMAGE_NOT_ALLOWED',
    'SHELL_NOT_ALLOWED',
    'PROFILE_UNKNOWN',
  ].includes(error.code);
}

export type ExecutorService = ReturnType<typeof createExecutorService>;
