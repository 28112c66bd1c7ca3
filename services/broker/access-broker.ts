/**
 * The access broker's domain service: access requests, approvals, denials,
 * expiry, certificate issuance and revocation. Every decision comes from the
 * policy library (`decideRequest`, `canApprove`), every state change is
 * audited (request.* / cert.* events on the broker trail, with the actor)
 * before it is stored, and the SSH user CA private key is used here and
 * nowhere else.
 *
 * Transport-free: the HTTPS adapter (http-api.ts) authenticates the caller
 * and passes the `Identity` in; errors are AirlockErrors with stable codes.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import type { AuditActor, AuditEventInput, AuditTrail } from '../core/audit/index.js';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import {
  canApprove,
  decideRequest,
  type Policy,
  type Profile,
  type RequestedScope,
  renderGroups,
  runbookScope,
  type ScopeRunbook,
} from '../core/policy/index.js';
import {
  parseCertificateLine,
  parsePublicKeyLine,
  type ScopeModeration,
  type ScopeModeratorRole,
  type SshPrivateKey,
  sha256Fingerprint,
  signUserCertificate,
} from '../core/ssh-cert/index.js';
import type { DenyListWriter, RevocationEntry } from './deny-list.js';
import type { Identity } from './identity.js';
import {
  checkKubeCsrSubject,
  type KubeCsrSigner,
  type KubeCsrSubject,
  kubeCertLifetimeSeconds,
  kubeCsrObjectName,
} from './kube-csr-signer.js';
import type { TierLifecycle } from './launcher/tier-lifecycle.js';
import type { AccessRequest, RequestStore, RequestVote } from './request-store.js';
import type { RequestNotifier } from './webhook-notifier.js';

/** What a caller sends to create a request. */
export interface CreateRequestInput {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly podPatterns: readonly string[];
  readonly reason: string;
  readonly ttlSeconds: number;
  /** One OpenSSH public key line. */
  readonly sshPublicKey: string;
  readonly runbook?: string;
  /** Container name globs the session may name with `-c`; absent: every container the profile allows. */
  readonly containerPatterns?: readonly string[];
  /** `moderator`: the moderator role of the profile (join and moderate its sessions), not access. */
  readonly role?: 'moderator';
}

/** Dependencies of {@link createAccessBroker}. */
export interface AccessBrokerDeps {
  readonly policy: Policy;
  readonly store: RequestStore;
  readonly audit: AuditTrail;
  readonly denyList: DenyListWriter;
  /**
   * The SSH user CA. Only the broker holds it. A getter when it rotates: the
   * signing key of the keyring at the moment of issuing.
   */
  readonly caKey: SshPrivateKey | (() => SshPrivateKey);
  /** Members of these groups may see and revoke any request. */
  readonly adminGroups: readonly string[];
  /** Overridden in tests. */
  readonly clock: () => Date;
  /** Tells people about new pending requests and decisions (never blocks); absent: no one. */
  readonly notifier?: RequestNotifier;
  /**
   * Kubernetes client certificates for kubectl; absent: the feature is off
   * and `kubeCertificate*` answer KUBE_CERT_UNAVAILABLE.
   */
  readonly kubeCertificates?: {
    readonly signer: KubeCsrSigner;
    /** The cluster the signer's kubeconfig reaches; only requests for it are served. */
    readonly cluster: string;
  };
  /**
   * Ephemeral mode: launches an approved request's own mediator and executor
   * pods and deletes them when it is revoked (services/broker/launcher);
   * absent: standing mode, nothing is launched.
   */
  readonly tiers?: TierLifecycle;
}

/** What `airlock cred-helper` / `airlock kube-cert` send: a CSR for the requester's own key. */
export interface KubeCertificateInput {
  /** PKCS#10 PEM; its subject must be exactly {@link KubeCertificateSubject}. */
  readonly csr: string;
  /** Wanted lifetime; bounded by the request and 30 min, at least 600 s. */
  readonly ttlSeconds: number;
  /** When given, must be the request's cluster. */
  readonly cluster?: string;
}

/** The subject a kube client CSR for a request must carry. */
export interface KubeCertificateSubject extends KubeCsrSubject {
  readonly requestId: string;
  readonly cluster: string;
  /** When the access granted by the request ends. */
  readonly accessExpiresAt: string;
}

/** A Kubernetes client certificate issued for a request. */
export interface IssuedKubeCertificate {
  readonly requestId: string;
  readonly cluster: string;
  /** PEM. */
  readonly certificate: string;
  /** Hex, as `openssl x509 -serial` prints it. */
  readonly serial: string;
  /** RFC 3339. */
  readonly notAfter: string;
}

/** The broker's operations. Each takes the authenticated actor. */
export interface AccessBroker {
  create(actor: Identity, input: CreateRequestInput): Promise<AccessRequest>;
  get(actor: Identity, id: string): Promise<AccessRequest>;
  /** `mine`: the actor's own requests; `pending`: pending requests the actor may approve now. */
  list(actor: Identity, filter: 'mine' | 'pending'): Promise<AccessRequest[]>;
  approve(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  deny(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  /** Signs (once) and returns the requester's certificate. */
  issueCertificate(actor: Identity, id: string): Promise<AccessRequest>;
  revoke(actor: Identity, id: string, comment?: string): Promise<AccessRequest>;
  /** The CSR subject the requester must use for a Kubernetes client certificate. */
  kubeCertificateSubject(actor: Identity, id: string): Promise<KubeCertificateSubject>;
  /**
   * Has Kubernetes sign the requester's client CSR (CN = user, O = the
   * scope's jit: groups) for an approved request; audited as cert.issued
   * with `kind: 'kube-client'`.
   */
  issueKubeCertificate(
    actor: Identity,
    id: string,
    input: KubeCertificateInput,
  ): Promise<IssuedKubeCertificate>;
  /** Moves pending requests past their expiry to `expired`; returns how many. */
  expirePending(): Promise<number>;
}

const REQUEST_ID = /^req-[0-9a-f]{20}$/;

/** User names compare after NFKC and lower-casing, as the policy compares them. */
function sameUser(a: Pick<Identity, 'user' | 'kind'>, b: Pick<Identity, 'user' | 'kind'>): boolean {
  return (
    a.kind === b.kind && a.user.normalize('NFKC').toLowerCase() === b.user.normalize('NFKC').toLowerCase()
  );
}

function auditActor(actor: Identity | 'system'): AuditActor {
  if (actor === 'system') return { kind: 'system' };
  return { user: actor.user, groups: [...actor.groups], kind: actor.kind === 'human' ? 'user' : 'service' };
}

function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

/**
 * The runbook a request's certificate names: the digest recorded when the
 * request was made (the steps that were approved), or, for a request stored
 * before digests were recorded, the steps of the policy now. Refuses a runbook
 * the policy no longer has.
 */
function runbookOfRequest(policy: Policy, request: AccessRequest): ScopeRunbook | undefined {
  const name = request.scope.runbook;
  if (name === undefined) return undefined;
  const now = runbookScope(policy, name);
  if (!now) throw new AirlockError('SCOPE_RUNBOOK_STALE', `runbook ${name} no longer exists`);
  return { name, stepsDigest: request.runbookStepsDigest ?? now.stepsDigest };
}

/** Checks the shape of a create body; the policy checks the values. */
function validateInput(input: unknown): CreateRequestInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    usage('the body must be a JSON object');
  const body = input as Record<string, unknown>;
  const allowed = [
    'profile',
    'cluster',
    'namespace',
    'podPatterns',
    'reason',
    'ttlSeconds',
    'sshPublicKey',
    'runbook',
    'containerPatterns',
    'role',
  ];
  for (const key of Object.keys(body))
    if (!allowed.includes(key)) usage(`unknown field ${JSON.stringify(key)}`);
  for (const key of ['profile', 'cluster', 'namespace', 'reason', 'sshPublicKey']) {
    if (typeof body[key] !== 'string') usage(`${key} must be a string`);
  }
  if (!Array.isArray(body.podPatterns) || body.podPatterns.some((p) => typeof p !== 'string')) {
    usage('podPatterns must be an array of strings');
  }
  if (typeof body.ttlSeconds !== 'number' || !Number.isSafeInteger(body.ttlSeconds) || body.ttlSeconds <= 0) {
    usage('ttlSeconds must be a positive integer');
  }
  if (body.runbook !== undefined && typeof body.runbook !== 'string') usage('runbook must be a string');
  if (body.role !== undefined && body.role !== 'moderator') usage('role must be "moderator" when given');
  if (
    body.containerPatterns !== undefined &&
    (!Array.isArray(body.containerPatterns) || body.containerPatterns.some((p) => typeof p !== 'string'))
  ) {
    usage('containerPatterns must be an array of strings');
  }
  return body as unknown as CreateRequestInput;
}

/**
 * What a certificate says about moderation: a moderator request gets the
 * moderator role (the requester's moderator groups now), any other request
 * of a moderated profile the profile's requirement now, so it travels signed
 * to both tiers. Refuses a moderator request whose profile is no longer
 * moderated or whose requester left its moderator groups.
 */
function moderationOfRequest(
  profile: Profile,
  request: AccessRequest,
): { moderation?: ScopeModeration; moderator?: ScopeModeratorRole } {
  const rule = profile.moderation;
  if (request.scope.role !== 'moderator') {
    if (!rule) return {};
    return { moderation: { requiredGroups: [...rule.requiredGroups], min: rule.min, mode: rule.mode } };
  }
  const groups = (rule?.requiredGroups ?? []).filter((g) => request.requester.groups.includes(g));
  if (groups.length === 0)
    throw new AirlockError('REQUEST_DENIED', 'the profile no longer has a moderator role for the requester');
  return { moderator: { groups } };
}

/** Checks the shape of a kube-certificate body. */
function validateKubeCertificateInput(input: unknown): KubeCertificateInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    usage('the body must be a JSON object');
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body))
    if (!['csr', 'ttlSeconds', 'cluster'].includes(key)) usage(`unknown field ${JSON.stringify(key)}`);
  if (typeof body.csr !== 'string' || body.csr.length > 16_384) usage('csr must be a PEM string');
  if (typeof body.ttlSeconds !== 'number' || !Number.isSafeInteger(body.ttlSeconds) || body.ttlSeconds <= 0) {
    usage('ttlSeconds must be a positive integer');
  }
  if (body.cluster !== undefined && typeof body.cluster !== 'string') usage('cluster must be a string');
  return body as unknown as KubeCertificateInput;
}

/** Node prints a subject as `CN=alice\nO=jit:a\nO=jit:b` (one attribute a line). */
function subjectMatches(printed: string, expected: KubeCsrSubject): boolean {
  const lines = printed.split('\n');
  const cn = lines.filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  const o = lines.filter((l) => l.startsWith('O=')).map((l) => l.slice(2));
  return (
    cn.length === 1 &&
    cn[0] === expected.commonName &&
    o.length === expected.organizations.length &&
    [...o].sort().join('\n') === [...expected.organizations].sort().join('\n')
  );
}

/** Creates the broker service. */
export function createAccessBroker(deps: AccessBrokerDeps): AccessBroker {
  const { policy, store, audit, clock } = deps;

  async function record(event: AuditEventInput): Promise<void> {
    await audit.append(event);
  }

  /** After the change is stored: fire and forget (the notifier never throws or waits). */
  function notify(
    kind: 'pending' | 'approved' | 'denied' | 'revoked',
    request: AccessRequest,
    actor: Identity,
  ) {
    deps.notifier?.notify({ kind, request, actor: actor.user });
  }

  function eventFor(
    request: AccessRequest,
    actor: Identity | 'system',
  ): Pick<AuditEventInput, 'actor' | 'target' | 'request_id'> {
    return {
      actor: auditActor(actor),
      target: { cluster: request.scope.cluster, namespace: request.scope.namespace },
      request_id: request.id,
    };
  }

  function isDue(request: AccessRequest, now: Date): boolean {
    return (
      request.status === 'pending' &&
      request.pendingExpiresAt !== undefined &&
      now.getTime() >= Date.parse(request.pendingExpiresAt)
    );
  }

  const notFound = (id: string) => new AirlockError('REQUEST_NOT_FOUND', `no access request ${id}`);

  /**
   * One state change of request `id`, as one store transaction: `work` gets
   * the record as stored (read under the store's lock, so two brokers never
   * both act on the same state), audits, and returns the new record or
   * undefined (no change). A pending request past its expiry becomes
   * `expired` (audited) first; that is stored even when `work` then refuses.
   */
  async function act(
    id: string,
    now: Date,
    work: (request: AccessRequest) => Promise<AccessRequest | undefined>,
  ): Promise<AccessRequest> {
    if (!REQUEST_ID.test(id)) throw notFound(id);
    let refusal: { error: unknown } | undefined;
    const stored = await store.update(id, async (current) => {
      if (!current) throw notFound(id);
      if (!isDue(current, now)) return work(current);
      const expired: AccessRequest = { ...current, status: 'expired' };
      await record({
        event: 'request.expired',
        ...eventFor(current, 'system'),
        reason: `pending since ${current.createdAt}, expired at ${current.pendingExpiresAt}`,
      });
      try {
        return (await work(expired)) ?? expired;
      } catch (error) {
        refusal = { error };
        return expired;
      }
    });
    if (refusal) throw refusal.error;
    if (!stored) throw notFound(id);
    return stored;
  }

  /** Reads a request (no lock); one past its expiry is expired first. */
  async function load(id: string, now: Date): Promise<AccessRequest> {
    const found = REQUEST_ID.test(id) ? await store.get(id) : undefined;
    if (!found) throw notFound(id);
    return isDue(found, now) ? act(id, now, async () => undefined) : found;
  }

  function isAdmin(actor: Identity): boolean {
    return actor.kind === 'human' && deps.adminGroups.some((g) => actor.groups.includes(g));
  }

  function isApproverFor(actor: Identity, request: AccessRequest): boolean {
    const profile = Object.hasOwn(policy.profiles, request.scope.profile)
      ? policy.profiles[request.scope.profile]
      : undefined;
    const groups = profile?.approval.manual?.approverGroups ?? [];
    return (
      actor.kind === 'human' &&
      (groups.some((g) => actor.groups.includes(g)) ||
        request.approvals.some((a) => sameUser({ user: a.user, kind: 'human' }, actor)))
    );
  }

  function mayView(actor: Identity, request: AccessRequest): boolean {
    return sameUser(actor, request.requester) || isAdmin(actor) || isApproverFor(actor, request);
  }

  function vote(actor: Identity, now: Date, comment?: string): RequestVote {
    if (comment !== undefined && (typeof comment !== 'string' || comment.length > 1024)) {
      usage('comment must be a string of at most 1024 characters');
    }
    return { user: actor.user, at: now.toISOString(), ...(comment ? { comment } : {}) };
  }

  function pendingView(request: AccessRequest) {
    return {
      requester: request.requester,
      scope: request.scope,
      createdAt: new Date(request.createdAt),
      approvedBy: request.approvals.map((a) => a.user),
    };
  }

  function notPending(request: AccessRequest): AirlockError {
    if (request.status === 'expired')
      return new AirlockError('REQUEST_EXPIRED', `request ${request.id} has expired`);
    return new AirlockError('REQUEST_STATE', `request ${request.id} is ${request.status}, not pending`);
  }

  /**
   * The approved, unexpired request of `actor` and the subject its kube
   * client certificates carry. Audits and throws every refusal.
   */
  async function kubeCertificateTarget(actor: Identity, id: string, now: Date) {
    const kube = deps.kubeCertificates;
    if (!kube) {
      throw new AirlockError(
        'KUBE_CERT_UNAVAILABLE',
        'this broker does not issue Kubernetes client certificates (kubeCertificates is not configured)',
      );
    }
    const request = await load(id, now);
    const refuse = async (code: ErrorCode, reason: string): Promise<never> => {
      await record({
        event: 'cert.issued',
        ...eventFor(request, actor),
        decision: 'deny',
        code,
        reason,
        details: { kind: 'kube-client' },
      });
      throw new AirlockError(code, reason);
    };
    if (!sameUser(actor, request.requester)) {
      return refuse('ACCESS_FORBIDDEN', 'only the requester may get a Kubernetes client certificate');
    }
    if (request.requester.kind !== 'human' || request.requester.user.startsWith('system:')) {
      // A certificate's CN is a Kubernetes user name: never mint a system: or ServiceAccount name.
      return refuse('ACCESS_FORBIDDEN', 'Kubernetes client certificates are issued to people only');
    }
    if (request.status === 'expired') throw new AirlockError('REQUEST_EXPIRED', `request ${id} has expired`);
    if (request.status !== 'approved') {
      throw new AirlockError('REQUEST_STATE', `request ${id} is ${request.status}, not approved`);
    }
    const accessExpiresAt = Date.parse(request.accessExpiresAt ?? '');
    if (!(now.getTime() < accessExpiresAt)) {
      throw new AirlockError('REQUEST_EXPIRED', `the access granted by request ${id} has expired`);
    }
    if (request.scope.cluster !== kube.cluster) {
      return refuse(
        'SCOPE_CLUSTER',
        `request ${id} is for cluster ${request.scope.cluster}; this broker signs for ${kube.cluster}`,
      );
    }
    const profile = Object.hasOwn(policy.profiles, request.scope.profile)
      ? policy.profiles[request.scope.profile]
      : undefined;
    if (!profile)
      throw new AirlockError('PROFILE_UNKNOWN', `profile ${request.scope.profile} no longer exists`);
    const subject: KubeCertificateSubject = {
      requestId: request.id,
      cluster: request.scope.cluster,
      commonName: request.requester.user,
      organizations: renderGroups(profile, request.scope),
      accessExpiresAt: new Date(accessExpiresAt).toISOString(),
    };
    return { request, subject, signer: kube.signer, refuse };
  }

  return {
    create: async (actor, raw) => {
      const input = validateInput(raw);
      let keyFingerprint: string;
      try {
        keyFingerprint = sha256Fingerprint(parsePublicKeyLine(input.sshPublicKey).key.blob);
      } catch (cause) {
        throw new AirlockError('USAGE', 'sshPublicKey is not an OpenSSH public key line', { cause });
      }
      const now = clock();
      const scope: RequestedScope = {
        profile: input.profile,
        cluster: input.cluster,
        namespace: input.namespace,
        podPatterns: [...input.podPatterns],
        ttlSeconds: input.ttlSeconds,
        reason: input.reason,
        ...(input.runbook === undefined ? {} : { runbook: input.runbook }),
        ...(input.containerPatterns === undefined ? {} : { containerPatterns: [...input.containerPatterns] }),
        ...(input.role === undefined ? {} : { role: input.role }),
      };
      const decision = decideRequest(policy, actor, scope, now);
      // The steps approved are the steps of now: the certificate names them
      // by digest, so a runbook edited before the session no longer runs.
      const runbook = scope.runbook === undefined ? undefined : runbookScope(policy, scope.runbook);
      const id = `req-${randomBytes(10).toString('hex')}`;
      const base = {
        id,
        requester: { user: actor.user, groups: [...actor.groups], kind: actor.kind },
        scope,
        sshPublicKey: input.sshPublicKey.trim(),
        keyFingerprint,
        decision,
        createdAt: now.toISOString(),
        approvals: [],
        ...(runbook === undefined ? {} : { runbookStepsDigest: runbook.stepsDigest }),
      };
      let request: AccessRequest;
      if (decision.decision === 'auto-approved') {
        request = {
          ...base,
          status: 'approved',
          approvedAt: now.toISOString(),
          accessExpiresAt: new Date(now.getTime() + scope.ttlSeconds * 1000).toISOString(),
        };
      } else if (decision.decision === 'needs-approval') {
        const pendingSeconds = decision.approvers?.pendingExpirySeconds ?? 0;
        request = {
          ...base,
          status: 'pending',
          pendingExpiresAt: new Date(now.getTime() + pendingSeconds * 1000).toISOString(),
        };
      } else {
        request = { ...base, status: 'denied' };
      }
      const common = {
        ...eventFor(request, actor),
        details: {
          profile: scope.profile,
          pods: [...scope.podPatterns],
          ttl_seconds: scope.ttlSeconds,
          key_fingerprint: keyFingerprint,
          decision: decision.decision,
          ...(decision.rule === undefined ? {} : { rule: decision.rule }),
          ...(scope.runbook === undefined ? {} : { runbook: scope.runbook }),
        },
        reason: scope.reason,
      };
      await store.update(id, async (current) => {
        if (current) throw new AirlockError('INTERNAL', `request id ${id} is taken`);
        await record({ event: 'request.created', ...common });
        if (decision.decision === 'auto-approved') {
          await record({
            event: 'request.approved',
            ...eventFor(request, actor),
            decision: 'allow',
            reason: `auto-approved by ${decision.rule ?? 'policy'}`,
            details: { auto: true, ...(decision.rule === undefined ? {} : { rule: decision.rule }) },
          });
        } else if (decision.decision === 'denied') {
          await record({
            event: 'request.denied',
            ...eventFor(request, actor),
            decision: 'deny',
            code: decision.code ?? 'REQUEST_DENIED',
            reason: decision.reasons.join('; '),
            details: { by: 'policy', ...(decision.rule === undefined ? {} : { rule: decision.rule }) },
          });
        }
        return request;
      });
      if (request.status === 'pending') notify('pending', request, actor);
      if (request.status === 'approved' && deps.tiers) return deps.tiers.approved(request);
      return request;
    },

    get: async (actor, id) => {
      const request = await load(id, clock());
      if (!mayView(actor, request)) {
        throw new AirlockError('ACCESS_FORBIDDEN', `you may not see request ${id}`);
      }
      return request;
    },

    list: async (actor, filter) => {
      const now = clock();
      const out: AccessRequest[] = [];
      const found = await store.list(filter === 'mine' ? { requester: actor } : { status: 'pending' });
      for (const stored of found) {
        const request = isDue(stored, now) ? await act(stored.id, now, async () => undefined) : stored;
        if (filter === 'mine' && sameUser(actor, request.requester)) out.push(request);
        if (
          filter === 'pending' &&
          request.status === 'pending' &&
          canApprove(policy, pendingView(request), actor, now).allowed
        ) {
          out.push(request);
        }
      }
      return out;
    },

    approve: async (actor, id, comment) => {
      const now = clock();
      const updated = await act(id, now, async (request) => {
        if (request.status !== 'pending') throw notPending(request);
        const verdict = canApprove(policy, pendingView(request), actor, now);
        if (!verdict.allowed) {
          await record({
            event: 'request.approved',
            ...eventFor(request, actor),
            decision: 'deny',
            code: 'APPROVAL_NOT_ALLOWED',
            reason: verdict.reason,
          });
          throw new AirlockError('APPROVAL_NOT_ALLOWED', `approval refused: ${verdict.reason}`);
        }
        const approvals = [...request.approvals, vote(actor, now, comment)];
        const updated: AccessRequest = verdict.complete
          ? {
              ...request,
              approvals,
              status: 'approved',
              approvedAt: now.toISOString(),
              accessExpiresAt: new Date(now.getTime() + request.scope.ttlSeconds * 1000).toISOString(),
            }
          : { ...request, approvals };
        await record({
          event: 'request.approved',
          ...eventFor(request, actor),
          decision: 'allow',
          reason: comment ?? 'approved',
          details: { complete: verdict.complete, approvals: approvals.length, rule: verdict.rule },
        });
        return updated;
      });
      if (updated.status === 'approved') notify('approved', updated, actor);
      if (updated.status === 'approved' && deps.tiers) return deps.tiers.approved(updated);
      return updated;
    },

    deny: async (actor, id, comment) => {
      const now = clock();
      const updated = await act(id, now, async (request) => {
        if (request.status !== 'pending') throw notPending(request);
        // The requester may withdraw; otherwise only someone who could approve may deny.
        const withdraw = sameUser(actor, request.requester);
        if (!withdraw) {
          const verdict = canApprove(policy, pendingView(request), actor, now);
          if (!verdict.allowed) {
            await record({
              event: 'request.denied',
              ...eventFor(request, actor),
              decision: 'deny',
              code: 'APPROVAL_NOT_ALLOWED',
              reason: `denial refused: ${verdict.reason}`,
            });
            throw new AirlockError('APPROVAL_NOT_ALLOWED', `denial refused: ${verdict.reason}`);
          }
        }
        const updated: AccessRequest = { ...request, status: 'denied', denial: vote(actor, now, comment) };
        await record({
          event: 'request.denied',
          ...eventFor(request, actor),
          decision: 'allow',
          reason: comment ?? (withdraw ? 'withdrawn by the requester' : 'denied'),
          details: { by: withdraw ? 'requester' : 'approver' },
        });
        return updated;
      });
      notify('denied', updated, actor);
      if (updated.launch) await deps.tiers?.ended(updated, 'denied');
      return updated;
    },

    issueCertificate: async (actor, id) => {
      const now = clock();
      const updated = await act(id, now, async (request) => {
        if (!sameUser(actor, request.requester)) {
          await record({
            event: 'cert.issued',
            ...eventFor(request, actor),
            decision: 'deny',
            code: 'ACCESS_FORBIDDEN',
            reason: 'only the requester may fetch the certificate',
          });
          throw new AirlockError('ACCESS_FORBIDDEN', 'only the requester may fetch the certificate');
        }
        if (request.status === 'expired')
          throw new AirlockError('REQUEST_EXPIRED', `request ${id} has expired`);
        if (request.status !== 'approved') {
          throw new AirlockError('REQUEST_STATE', `request ${id} is ${request.status}, not approved`);
        }
        if (request.certificate) return undefined; // issued once; the stored record answers
        const approvedAt = new Date(request.approvedAt ?? '');
        const accessExpiresAt = new Date(request.accessExpiresAt ?? '');
        if (!(now.getTime() < accessExpiresAt.getTime())) {
          throw new AirlockError('REQUEST_EXPIRED', `the access granted by request ${id} has expired`);
        }
        const profile = Object.hasOwn(policy.profiles, request.scope.profile)
          ? policy.profiles[request.scope.profile]
          : undefined;
        if (!profile)
          throw new AirlockError('PROFILE_UNKNOWN', `profile ${request.scope.profile} no longer exists`);
        const role = moderationOfRequest(profile, request);
        // A moderator acts as nobody in Kubernetes: no jit: groups.
        const groups = role.moderator ? [] : renderGroups(profile, request.scope);
        // PROTOCOL.certkeys extensions: grant only what the profile allows.
        const extensions: Record<string, string> = {};
        const runbook = runbookOfRequest(policy, request);
        // A runbook session may exec its steps and nothing else: no pty, no forwarding.
        // A moderator gets a pty for `ssh -t gw join` and nothing else.
        if ((profile.actions.shell && !runbook) || role.moderator) extensions['permit-pty'] = '';
        if (profile.actions['port-forward'] && !runbook && !role.moderator)
          extensions['permit-port-forwarding'] = '';
        const keyId = certificateKeyId(request.id, request.requester.user);
        const signed = signUserCertificate({
          caPrivateKey: typeof deps.caKey === 'function' ? deps.caKey() : deps.caKey,
          publicKey: parsePublicKeyLine(request.sshPublicKey).key,
          keyId,
          principals: [request.requester.user],
          validAfter: approvedAt,
          validBefore: accessExpiresAt,
          extensions,
          scope: {
            cluster: request.scope.cluster,
            namespace: request.scope.namespace,
            podPatterns: [...request.scope.podPatterns],
            profile: request.scope.profile,
            requestId: request.id,
            groups,
            ...(runbook ? { runbook } : {}),
            ...(request.scope.containerPatterns
              ? { containerPatterns: [...request.scope.containerPatterns] }
              : {}),
            ...role,
          },
        });
        const updated: AccessRequest = {
          ...request,
          certificate: {
            serial: signed.serial.toString(),
            keyId,
            line: signed.line,
            validAfter: approvedAt.toISOString(),
            validBefore: accessExpiresAt.toISOString(),
            issuedAt: now.toISOString(),
          },
        };
        await record({
          event: 'cert.issued',
          ...eventFor(request, actor),
          decision: 'allow',
          details: {
            serial: signed.serial.toString(),
            key_id: keyId,
            key_fingerprint: request.keyFingerprint,
            valid_after: approvedAt.toISOString(),
            valid_before: accessExpiresAt.toISOString(),
            extensions: Object.keys(extensions),
            groups,
          },
        });
        return updated;
      });
      return updated;
    },

    revoke: async (actor, id, comment) => {
      const now = clock();
      const updated = await act(id, now, async (request) => {
        const allowed = sameUser(actor, request.requester) || isAdmin(actor) || isApproverFor(actor, request);
        if (!allowed) {
          await record({
            event: 'cert.revoked',
            ...eventFor(request, actor),
            decision: 'deny',
            code: 'ACCESS_FORBIDDEN',
            reason: 'only the requester, an approver or an admin may revoke',
          });
          throw new AirlockError(
            'ACCESS_FORBIDDEN',
            'only the requester, an approver or an admin may revoke',
          );
        }
        if (request.status !== 'approved') {
          throw new AirlockError(
            'REQUEST_STATE',
            `request ${id} is ${request.status}; only approved access can be revoked`,
          );
        }
        const { keyId, serial, ...rest } = revocationEntryOf(request);
        // The deny list first: once the record says revoked, the certificate must already be refused.
        await deps.denyList.revoke({ keyId, serial, ...rest });
        const updated: AccessRequest = {
          ...request,
          status: 'revoked',
          revocation: vote(actor, now, comment),
        };
        await record({
          event: 'cert.revoked',
          ...eventFor(request, actor),
          decision: 'allow',
          reason: comment ?? 'revoked',
          details: { key_id: keyId, ...(serial === undefined ? {} : { serial: serial.toString() }) },
        });
        return updated;
      });
      notify('revoked', updated, actor);
      await deps.tiers?.ended(updated, 'revoked');
      return updated;
    },

    kubeCertificateSubject: (actor, id) =>
      kubeCertificateTarget(actor, id, clock()).then((target) => target.subject),

    issueKubeCertificate: async (actor, id, raw) => {
      const input = validateKubeCertificateInput(raw);
      // Checks first; the (slow) signing needs no lock: it changes no stored state.
      const { request, subject, signer, refuse, now } = await (async () => {
        const now = clock();
        const target = await kubeCertificateTarget(actor, id, now);
        if (input.cluster !== undefined && input.cluster !== target.request.scope.cluster) {
          await target.refuse(
            'SCOPE_CLUSTER',
            `request ${id} is for cluster ${target.request.scope.cluster}, not ${input.cluster}`,
          );
        }
        return { ...target, now };
      })();
      let publicKey: Uint8Array;
      try {
        publicKey = await checkKubeCsrSubject(input.csr, subject);
      } catch (error) {
        if (error instanceof AirlockError) await refuse(error.code, error.message);
        throw error;
      }
      const remaining = (Date.parse(subject.accessExpiresAt) - now.getTime()) / 1000;
      const expirationSeconds = kubeCertLifetimeSeconds(input.ttlSeconds, remaining);
      const name = kubeCsrObjectName(request.id);
      let pem: string;
      try {
        pem = await signer.sign({
          name,
          csrPem: input.csr,
          expirationSeconds,
          approvalMessage: `airlock: ${subject.commonName} for ${request.id}`,
          labels: { 'app.kubernetes.io/managed-by': 'airlock', 'airlock.dev/request-id': request.id },
        });
      } catch (error) {
        const failure =
          error instanceof AirlockError
            ? error
            : new AirlockError('KUBERNETES_ERROR', String(error), { cause: error });
        await record({
          event: 'cert.issued',
          ...eventFor(request, actor),
          decision: 'deny',
          code: failure.code,
          reason: failure.message,
          details: { kind: 'kube-client', csr_name: name },
        });
        throw failure;
      }
      // Trust, but verify: the certificate must be for the CSR's key and subject.
      let certificate: X509Certificate | undefined;
      try {
        certificate = new X509Certificate(pem);
      } catch {
        certificate = undefined;
      }
      const certKey = certificate?.publicKey.export({ type: 'spki', format: 'der' });
      if (
        !certificate ||
        !certKey ||
        !Buffer.from(publicKey).equals(certKey) ||
        !subjectMatches(certificate.subject, subject)
      ) {
        const reason = 'the signer returned no certificate for the requested key and subject';
        await record({
          event: 'cert.issued',
          ...eventFor(request, actor),
          decision: 'deny',
          code: 'KUBERNETES_ERROR',
          reason,
          details: { kind: 'kube-client', csr_name: name },
        });
        throw new AirlockError('KUBERNETES_ERROR', reason, { detail: `subject ${certificate?.subject}` });
      }
      const notAfter = new Date(certificate.validTo).toISOString();
      await record({
        event: 'cert.issued',
        ...eventFor(request, actor),
        decision: 'allow',
        details: {
          kind: 'kube-client',
          serial: certificate.serialNumber,
          not_after: notAfter,
          expiration_seconds: expirationSeconds,
          csr_name: name,
          groups: [...subject.organizations],
        },
      });
      return {
        requestId: request.id,
        cluster: subject.cluster,
        certificate: certificate.toString(),
        serial: certificate.serialNumber,
        notAfter,
      };
    },

    expirePending: () =>
      (async () => {
        const now = clock();
        let count = 0;
        for (const request of await store.list({ status: 'pending' })) {
          if (!isDue(request, now)) continue;
          // Re-read under the lock: another broker may have expired or decided it meanwhile.
          const changed = await act(request.id, now, async () => undefined).catch(() => undefined);
          if (changed?.status === 'expired') count++;
        }
        return count;
      })(),
  };
}

/** The key id of a session certificate (what `ssh-keygen -L` and sshd logs show): `airlock:<request-id>:<user>`. */
export function certificateKeyId(requestId: string, user: string): string {
  return `airlock:${requestId}:${user}`;
}

/** What revoking `request` adds to the revocation lists: its key id, and its certificate's serial and CA. */
export function revocationEntryOf(request: AccessRequest): RevocationEntry & { keyId: string } {
  const keyId = certificateKeyId(request.id, request.requester.user);
  if (request.certificate === undefined) return { keyId };
  return {
    keyId,
    serial: BigInt(request.certificate.serial),
    // The KRL scopes the serial to the CA that signed this certificate (not necessarily today's signer).
    caKey: parseCertificateLine(request.certificate.line).certificate.signatureKey.blob,
  };
}
