import { dirname, join } from 'node:path';
import {
  defaultedBlock,
  loadSshTierConfig,
  resolveTierCaSource,
  SCHEMA,
  type SshTierConfig,
  type TierCaSource,
  type WitnessedAuditConfig,
} from '../core/service/config-file.js';
import { KUBE_CREDENTIAL_MODES, type KubeCredentialMode } from './kube-credentials.js';

/** The executor's configuration file (JSON). Paths are relative to the file. */
export interface ExecutorConfig extends SshTierConfig<WitnessedAuditConfig> {
  /** host:port to serve gRPC (mTLS only) on. */
  listen: string;
  /** The cluster name this executor serves; certificates scoped to another cluster are refused. */
  cluster: string;
  /** The mediator tier CA certificates (PEM bundle) whose session grants are accepted. */
  mediatorCaBundleFile: string;
  /** The executor tier CA that issues this server's short-lived serving certificates. */
  executorCa: TierCaSource;
  serving: { dnsNames: string[]; ipAddresses: string[]; lifetimeSeconds: number };
  /**
   * The record of accepted logins (used-signatures.ts), so each login signature opens one
   * session. Default: `used-logins.jsonl` beside the audit trail, in the state directory.
   */
  loginRecordFile: string;
  /**
   * Ephemeral mode (the broker's launcher sets it to the request's approval):
   * when the login record does not exist yet, it is complete since this
   * moment (RFC 3339) rather than since the start, so the request's
   * certificates (valid from its approval) are not refused as predating a
   * pod that started after them (CERT_PREDATES_REPLAY_RECORD). Sound only
   * for an executor no login could reach before it: its mediator CA is the
   * request's own, made at launch. Absent: since the start.
   */
  loginRecordSince?: string;
  limits: {
    /** Open sessions per user at this executor; one more is refused with LIMIT_EXCEEDED. */
    maxSessionsPerUser: number;
  };
  /** Kubeconfig of the executor's own identity; absent: in-cluster ServiceAccount. */
  kubeconfig?: string;
  /**
   * How sessions authenticate to Kubernetes (kube-credentials.ts): impersonation (default) or
   * a per-session client certificate from the CSR API.
   */
  kubeCredentials: KubeCredentialMode;
}

export const executorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'listen',
    'cluster',
    'policyFile',
    'sshUserCaKeysFile',
    'mediatorCaBundleFile',
    'executorCa',
    'serving',
    'audit',
  ],
  properties: {
    listen: SCHEMA.listen,
    cluster: SCHEMA.file,
    ...SCHEMA.sshTrust,
    mediatorCaBundleFile: SCHEMA.file,
    executorCa: SCHEMA.tierCa,
    serving: {
      type: 'object',
      additionalProperties: false,
      required: [],
      properties: {
        dnsNames: { ...SCHEMA.files, default: ['localhost'] },
        ipAddresses: { ...SCHEMA.files, default: ['127.0.0.1'] },
        lifetimeSeconds: { type: 'integer', minimum: 300, maximum: 2_592_000, default: 86_400 },
      },
    },
    audit: SCHEMA.audit,
    loginRecordFile: SCHEMA.file,
    loginRecordSince: {
      type: 'string',
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$',
    },
    limits: defaultedBlock({
      maxSessionsPerUser: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
    }),
    kubeconfig: { ...SCHEMA.file, nullable: true },
    kubeCredentials: { type: 'string', enum: KUBE_CREDENTIAL_MODES, default: 'impersonation' },
    ...SCHEMA.service,
  },
} as const;

/** Loads the file and resolves every path in it relative to the file. */
export function loadExecutorConfig(path: string): ExecutorConfig {
  return loadSshTierConfig<ExecutorConfig>(path, executorConfigSchema, (config, from) => ({
    mediatorCaBundleFile: from(config.mediatorCaBundleFile),
    executorCa: resolveTierCaSource(path, config.executorCa),
    loginRecordFile: config.loginRecordFile
      ? from(config.loginRecordFile)
      : join(dirname(from(config.audit.path)), 'used-logins.jsonl'),
    ...(config.kubeconfig ? { kubeconfig: from(config.kubeconfig) } : {}),
  }));
}
