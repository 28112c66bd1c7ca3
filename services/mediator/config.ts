import type { LogLevel } from '../core/observability/logging.js';
import {
  type BrokerWitnessConfig,
  loadConfigFile,
  type OffPodAckConfig,
  resolveFrom,
  resolveTierCaSource,
  SCHEMA,
  type TierCaSource,
} from '../core/service/config-file.js';

/** The mediator's configuration file (JSON). Paths are relative to the file. */
export interface MediatorConfig {
  /** host:port for SSH. */
  listen: string;
  /** ed25519 host key (OpenSSH format, 0600); created on first start. */
  hostKeyFile: string;
  /**
   * The airlock host CA's certificate of that key (`airlock ca sign-host`),
   * presented so clients verify the host with `@cert-authority`. Optional.
   */
  hostCertificateFile?: string;
  /**
   * Ephemeral mode (the broker's launcher sets it): the one access request
   * this mediator serves. A certificate of any other request is refused at
   * login (CERT_REQUEST_MISMATCH), whatever route it arrived by. Absent: a
   * standing mediator, any request.
   */
  requestId?: string;
  policyFile: string;
  /** The broker's SSH user CA public keys (TrustedUserCAKeys format). */
  sshUserCaKeysFile: string;
  revocation: { krlFiles: string[]; denyListFiles: string[] };
  /** The mediator tier CA that issues session grants. */
  mediatorCa: TierCaSource;
  executor: { address: string; caBundleFile: string; serverName?: string };
  audit: {
    path: string;
    signingKeyFile: string;
    checkpointEvery: number;
    checkpointSeconds: number;
    offPodAck?: OffPodAckConfig;
    /** The broker that witnesses this tier's checkpoint heads (docs/audit.md). */
    brokerWitness?: BrokerWitnessConfig;
    /** How often an open session exchanges checkpoint heads with the executor (docs/audit.md). */
    witnessSeconds: number;
  };
  limits: {
    preAuthTimeoutSeconds: number;
    maxUnauthenticatedPerSource: number;
    maxSessionsPerPrincipal: number;
    idleTimeoutSeconds: number;
    expiryWarningSeconds: number;
  };
  /** Interactive sessions recorded as asciicast v2; input only if recordInput (it can hold secrets). */
  recordings?: { dir: string; recordInput: boolean };
  /** Local operations endpoint: /healthz, /readyz, /metrics. Absent: not served. */
  ops?: { listen: string };
  drainSeconds: number;
  logLevel: LogLevel;
}

export const mediatorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'hostKeyFile', 'policyFile', 'sshUserCaKeysFile', 'mediatorCa', 'executor', 'audit'],
  properties: {
    listen: SCHEMA.listen,
    hostKeyFile: SCHEMA.file,
    hostCertificateFile: SCHEMA.file,
    requestId: { type: 'string', minLength: 1, maxLength: 128 },
    policyFile: SCHEMA.file,
    sshUserCaKeysFile: SCHEMA.file,
    revocation: SCHEMA.revocation,
    mediatorCa: SCHEMA.tierCa,
    executor: {
      type: 'object',
      additionalProperties: false,
      required: ['address', 'caBundleFile'],
      properties: { address: SCHEMA.listen, caBundleFile: SCHEMA.file, serverName: SCHEMA.file },
    },
    audit: SCHEMA.audit,
    limits: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: {},
      properties: {
        preAuthTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 20 },
        maxUnauthenticatedPerSource: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        maxSessionsPerPrincipal: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        idleTimeoutSeconds: { type: 'integer', minimum: 10, maximum: 86_400, default: 900 },
        expiryWarningSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 60 },
      },
    },
    recordings: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: { dir: SCHEMA.file, recordInput: { type: 'boolean', default: false } },
    },
    ops: SCHEMA.ops,
    drainSeconds: SCHEMA.drainSeconds,
    logLevel: SCHEMA.logLevel,
  },
} as const;

export function loadMediatorConfig(path: string): MediatorConfig {
  const config = loadConfigFile<MediatorConfig>(path, mediatorConfigSchema);
  const from = (p: string) => resolveFrom(path, p);
  return {
    ...config,
    hostKeyFile: from(config.hostKeyFile),
    ...(config.hostCertificateFile ? { hostCertificateFile: from(config.hostCertificateFile) } : {}),
    policyFile: from(config.policyFile),
    sshUserCaKeysFile: from(config.sshUserCaKeysFile),
    revocation: {
      krlFiles: config.revocation.krlFiles.map(from),
      denyListFiles: config.revocation.denyListFiles.map(from),
    },
    mediatorCa: resolveTierCaSource(path, config.mediatorCa),
    executor: { ...config.executor, caBundleFile: from(config.executor.caBundleFile) },
    audit: {
      ...config.audit,
      path: from(config.audit.path),
      signingKeyFile: from(config.audit.signingKeyFile),
      ...(config.audit.brokerWitness?.caBundleFile
        ? {
            brokerWitness: {
              ...config.audit.brokerWitness,
              caBundleFile: from(config.audit.brokerWitness.caBundleFile),
            },
          }
        : {}),
    },
  };
}
