/**
 * Kubernetes client certificates for kubectl: the CSR subject a request's
 * certificate must carry, and the signing by the cluster's CSR API (the
 * signer), checked after the fact. Every refusal is audited as cert.issued
 * with `kind: 'kube-client'`.
 */
import { X509Certificate } from 'node:crypto';
import { AirlockError, type ErrorCode } from '../../core/errors.js';
import { renderGroups } from '../../core/policy/index.js';
import type { Identity } from '../identity.js';
import {
  checkKubeCsrSubject,
  type KubeCsrSigner,
  type KubeCsrSubject,
  kubeCertLifetimeSeconds,
  kubeCsrObjectName,
} from '../kube-csr-signer.js';
import type { AccessRequest } from '../request-store.js';
import { eventFor } from './audit-records.js';
import type { BrokerContext } from './context.js';
import { sameUser } from './request-rules.js';
import type { IssuedKubeCertificate, KubeCertificateInput, KubeCertificateSubject } from './types.js';
import { validateKubeCertificateInput } from './validate.js';

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

/** The request, its subject and signer, and `refuse` (audit, then throw). */
interface KubeCertificateTarget {
  readonly request: AccessRequest;
  readonly subject: KubeCertificateSubject;
  readonly signer: KubeCsrSigner;
  readonly refuse: (code: ErrorCode, reason: string) => Promise<never>;
}

/**
 * The approved, unexpired request of `actor` and the subject its kube
 * client certificates carry. Audits and throws every refusal.
 */
export async function kubeCertificateTarget(
  ctx: BrokerContext,
  actor: Identity,
  id: string,
  now: Date,
): Promise<KubeCertificateTarget> {
  const { policy } = ctx;
  const kube = ctx.deps.kubeCertificates;
  if (!kube) {
    throw new AirlockError(
      'KUBE_CERT_UNAVAILABLE',
      'this broker does not issue Kubernetes client certificates (kubeCertificates is not configured)',
    );
  }
  const request = await ctx.load(id, now);
  const refuse = async (code: ErrorCode, reason: string): Promise<never> => {
    await ctx.record({
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

/** Has the signer sign the CSR; a failure is audited and thrown as an AirlockError. */
async function signCsr(
  ctx: BrokerContext,
  actor: Identity,
  target: KubeCertificateTarget,
  csr: { readonly pem: string; readonly name: string; readonly expirationSeconds: number },
): Promise<string> {
  const { request, subject, signer } = target;
  try {
    return await signer.sign({
      name: csr.name,
      csrPem: csr.pem,
      expirationSeconds: csr.expirationSeconds,
      approvalMessage: `airlock: ${subject.commonName} for ${request.id}`,
      labels: { 'app.kubernetes.io/managed-by': 'airlock', 'airlock.dev/request-id': request.id },
    });
  } catch (error) {
    const failure =
      error instanceof AirlockError
        ? error
        : new AirlockError('KUBERNETES_ERROR', String(error), { cause: error });
    await ctx.record({
      event: 'cert.issued',
      ...eventFor(request, actor),
      decision: 'deny',
      code: failure.code,
      reason: failure.message,
      details: { kind: 'kube-client', csr_name: csr.name },
    });
    throw failure;
  }
}

/** Trust, but verify: the certificate must be for the CSR's key and subject (audited and thrown if not). */
async function checkIssued(
  ctx: BrokerContext,
  actor: Identity,
  target: KubeCertificateTarget,
  issued: { readonly pem: string; readonly publicKey: Uint8Array; readonly name: string },
): Promise<X509Certificate> {
  let certificate: X509Certificate | undefined;
  try {
    certificate = new X509Certificate(issued.pem);
  } catch {
    certificate = undefined;
  }
  const certKey = certificate?.publicKey.export({ type: 'spki', format: 'der' });
  if (
    !certificate ||
    !certKey ||
    !Buffer.from(issued.publicKey).equals(certKey) ||
    !subjectMatches(certificate.subject, target.subject)
  ) {
    const reason = 'the signer returned no certificate for the requested key and subject';
    await ctx.record({
      event: 'cert.issued',
      ...eventFor(target.request, actor),
      decision: 'deny',
      code: 'KUBERNETES_ERROR',
      reason,
      details: { kind: 'kube-client', csr_name: issued.name },
    });
    throw new AirlockError('KUBERNETES_ERROR', reason, { detail: `subject ${certificate?.subject}` });
  }
  return certificate;
}

/**
 * Has Kubernetes sign the requester's client CSR (CN = user, O = the
 * scope's jit: groups) for an approved request; audited as cert.issued
 * with `kind: 'kube-client'`.
 */
export async function issueKubeCertificate(
  ctx: BrokerContext,
  actor: Identity,
  id: string,
  raw: KubeCertificateInput,
): Promise<IssuedKubeCertificate> {
  const input = validateKubeCertificateInput(raw);
  // Checks first; the (slow) signing needs no lock: it changes no stored state.
  const now = ctx.clock();
  const target = await kubeCertificateTarget(ctx, actor, id, now);
  const { request, subject, refuse } = target;
  if (input.cluster !== undefined && input.cluster !== request.scope.cluster) {
    await refuse(
      'SCOPE_CLUSTER',
      `request ${id} is for cluster ${request.scope.cluster}, not ${input.cluster}`,
    );
  }
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
  const pem = await signCsr(ctx, actor, target, { pem: input.csr, name, expirationSeconds });
  const certificate = await checkIssued(ctx, actor, target, { pem, publicKey, name });
  const notAfter = new Date(certificate.validTo).toISOString();
  await ctx.record({
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
}
