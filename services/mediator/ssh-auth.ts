import type { Logger } from 'pino';
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import type { AuditEventInput } from '../core/audit/types.js';
import { AirlockError } from '../core/errors.js';
import { type AdmissionOptions, admitLogin } from '../core/session/certificate-admission.js';
import {
  parseCertificate,
  type SshCertificate,
  verifyCertificateIssuer,
  verifySshSignature,
} from '../core/ssh-cert/index.js';
import { refusalBanner } from './auth-banner.js';
import type { ConnectionState, MediatorDeps, MediatorLimits } from './frontend-context.js';

/** ssh2's AuthContext with airlock's patch (patches/ssh2-userauth-banner.patch): a banner before the answer. */
type BannerAuthContext = PublicKeyAuthContext & { banner?(message: string): void };

/**
 * What the admission stages (this file and `preauth-limiter.ts`) use of a
 * front door: the mediator's `FrontendContext` and the jump door
 * (services/mediator/door) both provide it, so a certificate is admitted the same way
 * at both.
 */
export interface AdmissionContext {
  deps: Pick<MediatorDeps, 'trustedSshCas' | 'revocation' | 'policy' | 'audit' | 'clock' | 'requestId'> & {
    limits: Pick<
      MediatorLimits,
      'preAuthTimeoutMs' | 'maxUnauthenticatedPerSource' | 'maxSessionsPerPrincipal'
    >;
  };
  log: Logger;
  metrics: { authFailures: { inc(labels: { code: string }): void } };
  /** Appends to the trail; durable when the event carries a decision. Never throws. */
  audit(event: AuditEventInput, durable?: boolean): Promise<void>;
  /** Authenticated connections per certificate principal (`maxSessionsPerPrincipal`). */
  sessionsByPrincipal: Map<string, number>;
}

/** What authentication reads and records of one connection. */
export type AdmissionState = Pick<
  ConnectionState,
  'address' | 'authenticated' | 'identity' | 'certificate' | 'signature' | 'signedData' | 'span'
>;

function admissionOptions(ctx: AdmissionContext, state: AdmissionState, principal: string): AdmissionOptions {
  const { deps } = ctx;
  return {
    trustedCAs: deps.trustedSshCas(),
    principal,
    now: deps.clock(),
    clientAddress: state.address,
    revocation: deps.revocation(),
    policy: deps.policy(),
  };
}

/** Refuses the login: audited (`auth.denied`), counted, on the span, and `publickey` offered again. */
function deny(ctx: AdmissionContext, auth: AuthContext, state: AdmissionState, error: unknown): undefined {
  const airlock =
    error instanceof AirlockError ? error : new AirlockError('CERT_MALFORMED', 'invalid certificate');
  void ctx.audit({
    event: 'auth.denied',
    actor: { user: auth.username, address: state.address },
    target: {},
    decision: 'deny',
    code: airlock.code,
    reason: airlock.message,
  });
  ctx.metrics.authFailures.inc({ code: airlock.code });
  state.span.addEvent('auth.denied', { 'airlock.code': airlock.code });
  ctx.log.info({ code: airlock.code, address: state.address, user: auth.username }, 'authentication refused');
  auth.reject(['publickey']);
}

/**
 * Stage 2, authentication: an OpenSSH user certificate and nothing else,
 * admitted by `admitLogin` (chain, validity, principal, source address,
 * revocation, policy, and the RFC 4252 §7 signature). A query without a
 * signature is answered from the certificate's issuer alone. On success the
 * certificate, signature and signed data are kept: the executor verifies the
 * same login again at OpenSession.
 */
export function authenticate(ctx: AdmissionContext, auth: AuthContext, state: AdmissionState): undefined {
  if (auth.method !== 'publickey') {
    auth.reject(['publickey']);
    return;
  }
  const { deps } = ctx;
  if (!deps.audit.healthy())
    return deny(ctx, auth, state, new AirlockError('AUDIT_UNAVAILABLE', 'the audit trail is unavailable'));
  if (!auth.key.algo.endsWith('-cert-v01@openssh.com')) {
    return deny(
      ctx,
      auth,
      state,
      new AirlockError('CERT_REQUIRED', 'an OpenSSH user certificate is required; plain keys are refused'),
    );
  }
  let certificate: SshCertificate;
  try {
    // A copy: the parsed certificate keeps views of these bytes (see admitSignedLogin).
    certificate = parseCertificate(Buffer.from(auth.key.data));
    if (!auth.signature) {
      // The client asks whether this key would do (RFC 4252 §7). Only the
      // issuer is checked here, so that a client holding the key signs next
      // and can be told why its certificate is refused; a client holding
      // only the certificate (a public thing) learns nothing about its
      // validity or revocation.
      verifyCertificateIssuer(certificate, deps.trustedSshCas());
      auth.accept();
      return;
    }
  } catch (error) {
    return deny(ctx, auth, state, error);
  }
  admitSignedLogin(ctx, auth, state, certificate, Buffer.from(auth.signature));
}

/** The signature over this session's userauth request verifies with the certificate's key; a malformed one does not. */
function provesPossession(certificate: SshCertificate, signature: Buffer, signedData: Buffer): boolean {
  try {
    return verifySshSignature(certificate.publicKey, signature, signedData).valid;
  } catch {
    return false;
  }
}

/**
 * The signed request: admitted by `admitLogin`, or refused. A refusal is
 * explained in a banner only when the signature over this session's request
 * verifies with the certificate's key (proof of possession); see
 * auth-banner.ts.
 */
function admitSignedLogin(
  ctx: AdmissionContext,
  auth: BannerAuthContext,
  state: AdmissionState,
  certificate: SshCertificate,
  signature: Buffer,
): undefined {
  const { deps } = ctx;
  // ssh2 hands over the RFC 4252 §7 signed data it rebuilt: session id + the request.
  const signedData = Buffer.from(auth.blob!);
  try {
    const { identity } = admitLogin(
      certificate,
      signature,
      signedData,
      admissionOptions(ctx, state, auth.username),
    );
    // A per-request mediator serves its own request only: a certificate of another one is refused
    // even when it reached this pod past the door (e.g. where NetworkPolicies are not enforced).
    if (deps.requestId !== undefined && identity.scope.requestId !== deps.requestId) {
      throw new AirlockError(
        'CERT_REQUEST_MISMATCH',
        `the certificate is for request ${identity.scope.requestId}; this mediator serves ${deps.requestId}`,
      );
    }
    const open = ctx.sessionsByPrincipal.get(identity.principal) ?? 0;
    if (open >= deps.limits.maxSessionsPerPrincipal) {
      const limit = deps.limits.maxSessionsPerPrincipal;
      throw new AirlockError('LIMIT_EXCEEDED', `at most ${limit} sessions per user`);
    }
    state.identity = identity;
    // Copies: ssh2 hands over views of its packet buffers, which later packets may
    // overwrite before the executor session opens (seen as CERT_MALFORMED at the
    // executor under load, test/e2e/ca-rotation.test.ts).
    state.certificate = Buffer.from(auth.key.data);
    state.signature = signature;
    state.signedData = signedData;
    auth.accept();
  } catch (error) {
    if (provesPossession(certificate, signature, signedData) && error instanceof AirlockError)
      auth.banner?.(refusalBanner(error, certificate));
    deny(ctx, auth, state, error);
  }
}

/** The login succeeded (ssh2 `ready`): counted against the principal's limit and audited. */
export function recordAuthenticated(ctx: AdmissionContext, state: AdmissionState): void {
  state.authenticated = true;
  const identity = state.identity!;
  state.span.setAttribute('enduser.id', identity.principal);
  state.span.addEvent('ssh.authenticated');
  const principals = ctx.sessionsByPrincipal;
  principals.set(identity.principal, (principals.get(identity.principal) ?? 0) + 1);
  void ctx.audit({
    event: 'auth.accepted',
    actor: { user: identity.principal, address: state.address },
    target: {},
    decision: 'allow',
    details: { key_id: identity.keyId, serial: identity.serial.toString(), ca: identity.caFingerprint },
  });
}

/** The connection closed: its principal may open one more. */
export function releasePrincipal(ctx: AdmissionContext, state: AdmissionState): void {
  if (!state.authenticated) return;
  const principal = state.identity!.principal;
  const left = (ctx.sessionsByPrincipal.get(principal) ?? 1) - 1;
  if (left <= 0) ctx.sessionsByPrincipal.delete(principal);
  else ctx.sessionsByPrincipal.set(principal, left);
}
