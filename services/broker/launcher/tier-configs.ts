/**
 * The configuration files of one request's mediator and executor: the
 * standing tiers' files (deploy/base/config/) with the per-request parts —
 * the per-request CAs, host key and host certificate from the tier's Secret
 * (tier-credentials.ts),
 * the executor reached at its own per-request Service, and certificates
 * that end with the request. Same tier code, same mounts for the shared
 * parts (policy, SSH user CA keys, revocation lists, audit key).
 *
 * Pure: no I/O.
 */
import { EXECUTOR_GRPC_PORT, type LaunchNames, MEDIATOR_SSH_PORT, serviceHost } from './launch-names.js';
import { TLS_FILES } from './tier-credentials.js';

/** Where the pods mount what (tier-pods.ts mounts exactly these directories). */
export const MOUNTS = {
  config: '/etc/airlock/config',
  policy: '/etc/airlock/policy',
  sshCa: '/etc/airlock/ssh-ca',
  revocation: '/etc/airlock/revocation',
  auditKey: '/etc/airlock/audit-key',
  tls: '/etc/airlock/tls',
  state: '/var/lib/airlock',
  tmp: '/tmp',
} as const;

const tls = (file: string) => `${MOUNTS.tls}/${file}`;

function shared(tier: 'mediator' | 'executor') {
  return {
    policyFile: `${MOUNTS.policy}/policy.json`,
    sshUserCaKeysFile: `${MOUNTS.sshCa}/ssh-user-ca.pub`,
    revocation: {
      denyListFiles: [`${MOUNTS.revocation}/revoked.json`],
      krlFiles: [`${MOUNTS.revocation}/revoked.krl`],
    },
    audit: { path: `${MOUNTS.state}/audit/${tier}.jsonl`, signingKeyFile: `${MOUNTS.auditKey}/audit.key` },
    ops: { listen: '0.0.0.0:9464' },
    drainSeconds: 30,
    logLevel: 'info',
  };
}

/**
 * The executor's config.json of one request; `lifetimeSeconds` is the
 * request's remaining access, `approvedAt` its approval.
 */
export function executorConfig(
  names: LaunchNames,
  options: { namespace: string; cluster: string; lifetimeSeconds: number; approvedAt: Date },
): Record<string, unknown> {
  const host = serviceHost(names, 'executor', options.namespace);
  return {
    listen: `0.0.0.0:${EXECUTOR_GRPC_PORT}`,
    cluster: options.cluster,
    mediatorCaBundleFile: tls(TLS_FILES.mediatorCaCert),
    executorCa: { certFile: tls(TLS_FILES.executorCaCert), keyFile: tls(TLS_FILES.executorCaKey) },
    serving: {
      dnsNames: [names.tier.executor, host],
      ipAddresses: [],
      // The executor's schema wants at least 300 s; its CA caps the certificate at the request's end anyway.
      lifetimeSeconds: Math.max(300, options.lifetimeSeconds),
    },
    // The pod starts after the request's certificates are valid (from its approval): its fresh login
    // record must cover them, or every first login is CERT_PREDATES_REPLAY_RECORD. Sound here: no
    // executor but this pod trusts the request's own mediator CA, made at launch, and the record
    // (on the pod's emptyDir) survives its container's restarts.
    loginRecordSince: options.approvedAt.toISOString(),
    ...shared('executor'),
  };
}

/** The mediator's config.json of one request. */
export function mediatorConfig(names: LaunchNames, options: { namespace: string }): Record<string, unknown> {
  const executorHost = serviceHost(names, 'executor', options.namespace);
  return {
    listen: `0.0.0.0:${MEDIATOR_SSH_PORT}`,
    // Pinned: a certificate of another request is refused here (CERT_REQUEST_MISMATCH), not only at the door.
    requestId: names.requestId,
    hostKeyFile: tls(TLS_FILES.hostKey),
    // Signed by the airlock host CA for the request id (tier-credentials.ts): clients verify it with @cert-authority.
    hostCertificateFile: tls(TLS_FILES.hostCertificate),
    mediatorCa: { certFile: tls(TLS_FILES.mediatorCaCert), keyFile: tls(TLS_FILES.mediatorCaKey) },
    executor: {
      address: `${executorHost}:${EXECUTOR_GRPC_PORT}`,
      caBundleFile: tls(TLS_FILES.executorCaCert),
      serverName: executorHost,
    },
    ...shared('mediator'),
  };
}
