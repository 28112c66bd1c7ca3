import type { LogLevel } from '../../core/observability/logging.js';
import { loadConfigFile, resolveFrom, SCHEMA } from '../../core/service/config-file.js';

/**
 * Where the door finds mediators: the Kubernetes Services the launcher
 * creates (in-cluster credentials, or `kubeconfigFile`), or a fixed map of
 * request id → `host:port` (a hand-run mediator, development).
 */
export type DoorMediators =
  | { kubernetes: { namespace: string; kubeconfigFile?: string } }
  | { static: Record<string, string> };

/** The door's configuration file (JSON). Paths are relative to the file. */
export interface DoorConfig {
  /** host:port for SSH. */
  listen: string;
  /** ed25519 host key (OpenSSH format, 0600); created on first start. */
  hostKeyFile: string;
  /** The same policy as the mediator's: its TTL bounds are part of admitting a certificate. */
  policyFile: string;
  /** The broker's SSH user CA public keys (TrustedUserCAKeys format). */
  sshUserCaKeysFile: string;
  revocation: { krlFiles: string[]; denyListFiles: string[] };
  mediators: DoorMediators;
  audit: { path: string; signingKeyFile: string; checkpointEvery: number; checkpointSeconds: number };
  limits: {
    preAuthTimeoutSeconds: number;
    maxUnauthenticatedPerSource: number;
    maxSessionsPerPrincipal: number;
    /** How long a jump waits for its request's mediator before MEDIATOR_NOT_READY. */
    mediatorReadySeconds: number;
  };
  ops?: { listen: string };
  drainSeconds: number;
  logLevel: LogLevel;
}

const LABEL_VALUE = '^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$';

export const doorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'hostKeyFile', 'policyFile', 'sshUserCaKeysFile', 'mediators', 'audit'],
  properties: {
    listen: SCHEMA.listen,
    hostKeyFile: SCHEMA.file,
    policyFile: SCHEMA.file,
    sshUserCaKeysFile: SCHEMA.file,
    revocation: SCHEMA.revocation,
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
    limits: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: {},
      properties: {
        preAuthTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 20 },
        maxUnauthenticatedPerSource: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        maxSessionsPerPrincipal: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        mediatorReadySeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
      },
    },
    ops: SCHEMA.ops,
    drainSeconds: SCHEMA.drainSeconds,
    logLevel: SCHEMA.logLevel,
  },
} as const;

export function loadDoorConfig(path: string): DoorConfig {
  const config = loadConfigFile<DoorConfig>(path, doorConfigSchema);
  const from = (p: string) => resolveFrom(path, p);
  const mediators: DoorMediators =
    'kubernetes' in config.mediators
      ? {
          kubernetes: {
            namespace: config.mediators.kubernetes.namespace,
            ...(config.mediators.kubernetes.kubeconfigFile
              ? { kubeconfigFile: from(config.mediators.kubernetes.kubeconfigFile) }
              : {}),
          },
        }
      : config.mediators;
  return {
    ...config,
    hostKeyFile: from(config.hostKeyFile),
    policyFile: from(config.policyFile),
    sshUserCaKeysFile: from(config.sshUserCaKeysFile),
    revocation: {
      krlFiles: config.revocation.krlFiles.map(from),
      denyListFiles: config.revocation.denyListFiles.map(from),
    },
    mediators,
    audit: {
      ...config.audit,
      path: from(config.audit.path),
      signingKeyFile: from(config.audit.signingKeyFile),
    },
  };
}
