import {
  defaultedBlock,
  loadSshTierConfig,
  SCHEMA,
  type SshTierConfig,
} from '../../core/service/config-file.js';

/**
 * Where the door finds mediators: the Kubernetes Services the launcher
 * creates (in-cluster credentials, or `kubeconfigFile`), or a fixed map of
 * request id → `host:port` (a hand-run mediator, development).
 */
export type DoorMediators =
  | { kubernetes: { namespace: string; kubeconfigFile?: string } }
  | { static: Record<string, string> };

/** The door's configuration file (JSON). Paths are relative to the file. */
export interface DoorConfig extends SshTierConfig {
  /** host:port for SSH. */
  listen: string;
  /** ed25519 host key (OpenSSH format, 0600); created on first start. */
  hostKeyFile: string;
  mediators: DoorMediators;
  limits: {
    preAuthTimeoutSeconds: number;
    maxUnauthenticatedPerSource: number;
    maxSessionsPerPrincipal: number;
    /** How long a jump waits for its request's mediator before MEDIATOR_NOT_READY. */
    mediatorReadySeconds: number;
  };
}

const LABEL_VALUE = '^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$';

export const doorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'hostKeyFile', 'policyFile', 'sshUserCaKeysFile', 'mediators', 'audit'],
  properties: {
    listen: SCHEMA.listen,
    hostKeyFile: SCHEMA.file,
    // The same policy as the mediator's: its TTL bounds are part of admitting a certificate.
    ...SCHEMA.sshTrust,
    mediators: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        kubernetes: {
          type: 'object',
          additionalProperties: false,
          required: ['namespace'],
          properties: { namespace: { type: 'string', pattern: LABEL_VALUE }, kubeconfigFile: SCHEMA.file },
        },
        static: {
          type: 'object',
          propertyNames: { pattern: LABEL_VALUE },
          additionalProperties: SCHEMA.listen,
        },
      },
    },
    audit: SCHEMA.audit,
    limits: defaultedBlock({
      ...SCHEMA.sshFrontLimits,
      mediatorReadySeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
    }),
    ...SCHEMA.service,
  },
} as const;

export function loadDoorConfig(path: string): DoorConfig {
  return loadSshTierConfig<DoorConfig>(path, doorConfigSchema, (config, from) => ({
    hostKeyFile: from(config.hostKeyFile),
    mediators: resolveMediators(config.mediators, from),
  }));
}

function resolveMediators(mediators: DoorMediators, from: (p: string) => string): DoorMediators {
  return 'kubernetes' in mediators
    ? {
        kubernetes: {
          namespace: mediators.kubernetes.namespace,
          ...(mediators.kubernetes.kubeconfigFile
            ? { kubeconfigFile: from(mediators.kubernetes.kubeconfigFile) }
            : {}),
        },
      }
    : mediators;
}
