/**
 * OpenSession: the executor's own admission of a session. Nothing the
 * mediator says is taken on trust: the SSH certificate and the user's login
 * signature are verified here, bound to the session grant (mTLS client
 * certificate) presented on the call, and checked against this executor's
 * cluster, the policy and the per-user session limit.
 *
 * `admitSession` is the decision, pure; `openSession` is the effectful
 * stage around it (grant verification, once-only logins, Kubernetes
 * credentials, the durable `session.opened` or `auth.denied` record, the
 * session registry).
 */
import type * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AirlockError } from '../core/errors.js';
import { endSpan, traceIdsOf } from '../core/observability/telemetry.js';
import { type Policy, sessionGroups } from '../core/policy/index.js';
import { type OpenSessionRequest, type OpenSessionResponse, sessionSummary } from '../core/rpc/messages.js';
import { sessionTarget } from '../core/session/audit-records.js';
import { type AdmittedIdentity, admitLogin } from '../core/session/certificate-admission.js';
import { sessionBindingDigest } from '../core/session/session-binding.js';
import {
  parseCertificate,
  type RevocationList,
  type SshCertificate,
  type SshPublicKey,
} from '../core/ssh-cert/index.js';
import { type SessionGrant, sessionGrantFromCertificate, verifyPeerCertificate } from '../core/x509/index.js';
import { type AnyCall, ensureServing, peerCertificateDer } from './call-context.js';
import type { ExecutorRuntime } from './executor-runtime.js';
import type { KubeCredentials, SessionKubeCredentials } from './kube-credentials.js';
import type { ExecutorSession } from './session-registry.js';

/** Everything {@link admitSession} decides on. */
export interface SessionAdmissionInput {
  readonly request: OpenSessionRequest;
  /** The verified grant presented on the call. */
  readonly grant: SessionGrant;
  /** The cluster this executor serves. */
  readonly cluster: string;
  readonly policy: Policy;
  readonly trustedCAs: readonly SshPublicKey[];
  readonly revocation: readonly RevocationList[];
  readonly now: Date;
  /** Sessions the user has open or opening now. */
  readonly sessionsOf: (user: string) => number;
  readonly maxSessionsPerUser: number;
}

/** An admitted session, before its credentials exist. */
export interface AdmittedSession {
  readonly identity: AdmittedIdentity;
  /** The verified certificate, re-checked while the session lives (revocation). */
  readonly certificate: SshCertificate;
  /** The `jit:` groups the session acts as. */
  readonly groups: string[];
  /** The earlier of certificate and grant expiry. */
  readonly expiresAt: Date;
}

/** The admission decision: returns the session, or throws the refusal with its code. */
export function admitSession(input: SessionAdmissionInput): AdmittedSession {
  const { request, grant, cluster, policy } = input;
  if (grant.sessionId !== request.session_id) {
    throw new AirlockError('GRANT_INVALID', 'the session grant is for another session');
  }
  // The certificate as the mediator checks it, and the user's signature over a real
  // publickey login for it. client_address is the mediator's word (source-address).
  const certificate = parseCertificate(request.ssh_certificate);
  const { identity } = admitLogin(certificate, request.auth_signature, request.auth_signed_data, {
    trustedCAs: input.trustedCAs,
    principal: request.principal,
    now: input.now,
    clientAddress: request.client_address,
    revocation: input.revocation,
    policy,
  });
  const scope = identity.scope;
  if (grant.user !== identity.principal || grant.scopeDigest !== sessionBindingDigest(identity)) {
    throw new AirlockError('GRANT_INVALID', 'the session grant does not match the certificate', {
      detail: `grant user ${grant.user}, certificate principal ${identity.principal}`,
    });
  }
  if (scope.cluster !== cluster) {
    throw new AirlockError('SCOPE_CLUSTER', `this executor serves cluster ${cluster}, not ${scope.cluster}`);
  }
  const profile = policy.profiles[scope.profile];
  if (!profile) throw new AirlockError('PROFILE_UNKNOWN', `profile ${scope.profile} is not in the policy`);
  const groups = sessionGroups(profile, scope);
  const certEnd = Number(identity.validBefore) * 1000;
  if (grant.notAfter.getTime() > certEnd) {
    throw new AirlockError('GRANT_INVALID', 'the session grant outlives the certificate', {
      detail: `grant notAfter ${grant.notAfter.toISOString()}, certificate valid before ${identity.validBefore}`,
    });
  }
  if (input.sessionsOf(identity.principal) >= input.maxSessionsPerUser) {
    throw new AirlockError('LIMIT_EXCEEDED', `at most ${input.maxSessionsPerUser} sessions per user`);
  }
  return { identity, certificate, groups, expiresAt: new Date(Math.min(certEnd, grant.notAfter.getTime())) };
}

/** The grant presented on this call, verified against the mediator CA bundle. */
async function verifiedGrant(rt: ExecutorRuntime, call: AnyCall): Promise<SessionGrant> {
  const der = peerCertificateDer(call);
  let verified: Awaited<ReturnType<typeof verifyPeerCertificate>>;
  try {
    verified = await verifyPeerCertificate(der, {
      trustedCas: rt.deps.mediatorCas(),
      usage: 'client',
      now: rt.deps.clock(),
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

/** The session's Kubernetes credentials, in a `kube.credentials` span (csr mode: a CSR round trip). */
async function openKubeCredentials(
  rt: ExecutorRuntime,
  parent: Span,
  subject: Parameters<KubeCredentials['open']>[0],
): Promise<SessionKubeCredentials> {
  const span = rt.tracer.startSpan(
    'kube.credentials',
    { kind: SpanKind.CLIENT, attributes: { 'airlock.kube.credentials': rt.deps.kubeCredentials.mode } },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  try {
    const credentials = await rt.deps.kubeCredentials.open(subject);
    endSpan(span);
    return credentials;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/** Holds a place in the user's session count while OpenSession runs; returns its release. */
function reserve(rt: ExecutorRuntime, user: string): () => void {
  rt.opening.set(user, (rt.opening.get(user) ?? 0) + 1);
  return () => {
    const left = (rt.opening.get(user) ?? 1) - 1;
    if (left <= 0) rt.opening.delete(user);
    else rt.opening.set(user, left);
  };
}

/** OpenSession: admits the session, opens its Kubernetes credentials, audits and registers it. */
export async function openSession(
  rt: ExecutorRuntime,
  call: grpc.ServerUnaryCall<OpenSessionRequest, OpenSessionResponse>,
  span: Span,
): Promise<OpenSessionResponse> {
  const request = call.request;
  const ids = traceIdsOf(span);
  /** Released here if the session is refused after they were made; otherwise the session owns them. */
  let kube: SessionKubeCredentials | undefined;
  let unreserve: (() => void) | undefined;
  try {
    ensureServing(rt);
    const grant = await verifiedGrant(rt, call);
    const admitted = admitSession({
      request,
      grant,
      cluster: rt.deps.cluster,
      policy: rt.deps.policy(),
      trustedCAs: rt.deps.trustedSshCas(),
      revocation: rt.deps.revocation(),
      now: rt.deps.clock(),
      // Sessions still opening count too, so concurrent OpenSessions cannot overshoot.
      sessionsOf: (user) => rt.sessions.countFor(user) + (rt.opening.get(user) ?? 0),
      maxSessionsPerUser: rt.deps.maxSessionsPerUser,
    });
    const { identity, groups, expiresAt } = admitted;
    unreserve = reserve(rt, identity.principal);
    // Last of the checks: a login refused above may be tried again on a new connection anyway.
    rt.deps.usedSignatures.admit({
      signedData: request.auth_signed_data,
      validAfter: identity.validAfter,
      validBefore: identity.validBefore,
    });
    const subject = {
      sessionId: grant.sessionId,
      user: identity.principal,
      groups,
      requestId: identity.scope.requestId,
    };
    kube = await openKubeCredentials(rt, span, { ...subject, expiresAt });
    const session: ExecutorSession = {
      id: grant.sessionId,
      requestId: identity.scope.requestId,
      user: identity.principal,
      identity,
      certificate: admitted.certificate,
      scope: identity.scope,
      groups,
      grantFingerprint: grant.fingerprint,
      clientAddress: request.client_address,
      expiresAt,
      kube,
    };
    span.addEvent('session.verified');
    // A malformed head refuses the session (AUDIT_WITNESS_INVALID): fail closed, audited as auth.denied.
    await rt.witness.record(request.witness_head ?? '', {
      session_id: session.id,
      ...(ids.traceId === undefined ? {} : { trace_id: ids.traceId }),
    });
    await auditOpened(rt, session, ids);
    rt.sessions.open(session);
    kube = undefined;
    rt.metrics.sessionsTotal.inc({ decision: 'allow', code: '' });
    rt.metrics.sessionsActive.set(rt.sessions.size);
    return sessionResponse(rt, session);
  } catch (error) {
    await kube?.release();
    throw await refused(rt, request, ids, error);
  } finally {
    unreserve?.();
  }
}

/** A refused OpenSession: counted, logged where the operator must act, audited as `auth.denied`. */
async function refused(
  rt: ExecutorRuntime,
  request: OpenSessionRequest,
  ids: ReturnType<typeof traceIdsOf>,
  error: unknown,
): Promise<AirlockError> {
  const airlock =
    error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error', { cause: error });
  if (airlock.code === 'KUBE_CREDENTIALS_UNAVAILABLE') rt.log.error({ err: error }, airlock.detail);
  rt.metrics.sessionsTotal.inc({ decision: 'deny', code: airlock.code });
  await rt.deps.audit
    .append(
      {
        event: 'auth.denied',
        actor: { user: request.principal, address: request.client_address },
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
    .catch((auditError: unknown) => rt.log.error({ err: auditError }, 'could not audit a refused session'));
  return airlock;
}

/** The durable `session.opened` record: who, which certificate, until when. */
async function auditOpened(
  rt: ExecutorRuntime,
  session: ExecutorSession,
  ids: ReturnType<typeof traceIdsOf>,
): Promise<void> {
  const { identity, scope } = session;
  await rt.deps.audit.append(
    {
      event: 'session.opened',
      actor: { user: session.user, address: session.clientAddress, groups: [...session.groups] },
      target: sessionTarget(session),
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
        expires_at: session.expiresAt.toISOString(),
      },
    },
    { durable: true },
  );
}

/** What the mediator learns of the session it opened (the wire shape). */
function sessionResponse(rt: ExecutorRuntime, session: ExecutorSession): OpenSessionResponse {
  const scope = session.scope;
  return {
    session_id: session.id,
    ...sessionSummary(session, session.expiresAt.getTime()),
    request_id: scope.requestId,
    witness_head: rt.witness.ownHead(),
  };
}
