/**
 * How a session appears to Kubernetes in impersonation mode: the one mapping
 * of a session to the impersonated user, groups and `airlock.dev/*` extras
 * (https://kubernetes.io/docs/reference/access-authn-authz/user-impersonation/).
 *
 * Every reader and writer of that mapping uses this module: RBAC rendering
 * (rbac.ts grants the executor exactly these names), the executor's request
 * headers (services/executor/kube-credentials.ts) and the audit timeline
 * (services/core/audit/timeline-parse.ts reads the extras back out of the
 * Kubernetes audit log). What is rendered and what is sent cannot drift:
 * kube-impersonation.test.ts checks them against each other for every
 * profile of the example policy.
 *
 * Pure: no I/O.
 */
import { AirlockError } from '../errors.js';
import { type GroupScope, renderGroups } from './groups.js';
import type { Profile } from './types.js';

/** The one user name the executor impersonates; the person travels in `airlock.dev/user`. */
export const IMPERSONATED_USER = 'airlock:session';

/** The `Impersonate-Extra` key of each session fact the executor sends. */
export const IMPERSONATION_EXTRA = {
  user: 'airlock.dev/user',
  sessionId: 'airlock.dev/session-id',
  traceId: 'airlock.dev/trace-id',
  requestId: 'airlock.dev/request-id',
} as const;

/** `Impersonate-Extra` keys the executor may set, and nothing else (RBAC `userextras/<key>`). */
export const IMPERSONATION_EXTRA_KEYS = [
  IMPERSONATION_EXTRA.user,
  IMPERSONATION_EXTRA.sessionId,
  IMPERSONATION_EXTRA.traceId,
  IMPERSONATION_EXTRA.requestId,
] as const;
export type ImpersonationExtraKey = (typeof IMPERSONATION_EXTRA_KEYS)[number];

/** Who the executor acts as on the Kubernetes API for one call. */
export interface Impersonation {
  readonly user: string;
  readonly groups: readonly string[];
  /** Impersonate-Extra-<key> values, e.g. `airlock.dev/session-id`. */
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/** The session facts impersonation carries. */
export interface ImpersonationSubject {
  readonly sessionId: string;
  /** The person: the SSH principal. */
  readonly user: string;
  /** Exactly the scope's rendered `jit:` groups ({@link sessionGroups}). */
  readonly groups: readonly string[];
  readonly requestId: string;
}

/** A certificate scope's group-relevant members. */
export interface SessionGroupScope extends GroupScope {
  /** The groups the certificate names. */
  readonly groups: readonly string[];
}

/**
 * The `jit:` groups a session acts as: its profile's templates rendered for
 * its scope. The certificate's own group list must be a subset: a
 * certificate naming a group its profile does not grant is refused
 * (CERT_SCOPE_INVALID), so a broker bug or a forged scope cannot widen RBAC.
 * Also throws renderGroups' errors for a malformed scope.
 */
export function sessionGroups(profile: Profile, scope: SessionGroupScope): string[] {
  const groups = renderGroups(profile, scope);
  const extraGroups = scope.groups.filter((g) => !groups.includes(g));
  if (extraGroups.length > 0) {
    throw new AirlockError('CERT_SCOPE_INVALID', 'the certificate names groups its profile does not grant', {
      detail: extraGroups.join(', '),
    });
  }
  return groups;
}

/** What impersonation mode sends for one call of a session; `traceId` names the call's trace. */
export function sessionImpersonation(subject: ImpersonationSubject, traceId?: string): Impersonation {
  const extra: Record<string, string[]> = {
    [IMPERSONATION_EXTRA.user]: [subject.user],
    [IMPERSONATION_EXTRA.sessionId]: [subject.sessionId],
    [IMPERSONATION_EXTRA.requestId]: [subject.requestId],
  };
  if (traceId) extra[IMPERSONATION_EXTRA.traceId] = [traceId];
  return { user: IMPERSONATED_USER, groups: subject.groups, extra };
}

/**
 * The impersonation headers, one entry per header *line*.
 *
 * Each group and each extra value must be its own header line: the
 * apiserver reads a comma-joined `Impersonate-Group: a, b` as ONE group named
 * "a, b". Extra keys are percent-encoded as the impersonation docs require
 * (keys are case-insensitive and may contain `/`).
 */
export function impersonationHeaders(impersonation: Impersonation): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'Impersonate-User': impersonation.user };
  if (impersonation.groups.length > 0) headers['Impersonate-Group'] = [...impersonation.groups];
  for (const [key, values] of Object.entries(impersonation.extra)) {
    if (values.length > 0)
      headers[`Impersonate-Extra-${encodeURIComponent(key.toLowerCase())}`] = [...values];
  }
  return headers;
}

/** The session facts read back from an impersonation's extras (a Kubernetes audit event's `impersonatedUser.extra`). */
export interface ImpersonatedSession {
  readonly user: string | undefined;
  readonly sessionId: string | undefined;
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
}

/** Reads {@link sessionImpersonation}'s extras back; `first(key)` gives a key's first value. */
export function impersonatedSession(
  first: (key: ImpersonationExtraKey) => string | undefined,
): ImpersonatedSession {
  return {
    user: first(IMPERSONATION_EXTRA.user),
    sessionId: first(IMPERSONATION_EXTRA.sessionId),
    requestId: first(IMPERSONATION_EXTRA.requestId),
    traceId: first(IMPERSONATION_EXTRA.traceId),
  };
}
