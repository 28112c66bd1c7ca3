import {
  defaultedBlock,
  loadSshTierConfig,
  resolveTierCaSource,
  SCHEMA,
  type SshTierConfig,
  type TierCaSource,
  type WitnessedAuditConfig,
} from '../core/service/config-file.js';

/** The mediator's configuration file (JSON). Paths are relative to the file. */
export interface MediatorConfig extends SshTierConfig<WitnessedAuditConfig> {
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
  /** The mediator tier CA that issues session grants. */
  mediatorCa: TierCaSource;
  executor: { address: string; caBundleFile: string; serverName?: string };
  limits: {
    preAuthTimeoutSeconds: number;
    maxUnauthenticatedPerSource: number;
    maxSessionsPerPrincipal: number;
    idleTimeoutSeconds: number;
    expiryWarningSeconds: number;
  };
  /** Interactive sessions recorded as asciicast v2; input only if recordInput (it can hold secrets). */
  recordings?: { dir: string; recordInput: boolean };
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
    ...SCHEMA.sshTrust,
    mediatorCa: SCHEMA.tierCa,
    executor: {
      type: 'object',
      additionalProperties: false,
      required: ['address', 'caBundleFile'],
      properties: { address: SCHEMA.listen, caBundleFile: SCHEMA.file, serverName: SCHEMA.file },
    },
    audit: SCHEMA.audit,
    limits: defaultedBlock({
      ...SCHEMA.sshFrontLimits,
      idleTimeoutSeconds: { type: 'integer', minimum: 10, maximum: 86_400, default: 900 },
      expiryWarningSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 60 },
    }),
    recordings: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: { dir: SCHEMA.file, recordInput: { type: 'boolean', default: false } },
    },
    ...SCHEMA.service,
  },
} as const;

export function loadMediatorConfig(path: string): MediatorConfig {
  return loadSshTierConfig<MediatorConfig>(path, mediatorConfigSchema, (config, from) => ({
    hostKeyFile: from(config.hostKeyFile),
    ...(config.hostCertificateFile ? { hostCertificateFile: from(config.hostCertificateFile) } : {}),
    mediatorCa: resolveTierCaSource(path, config.mediatorCa),
    executor: { ...config.executor, caBundleFile: from(config.executor.caBundleFile) },
  }));
}
