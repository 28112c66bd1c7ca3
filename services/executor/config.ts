import { loadConfigFile, resolveFrom } from '../core/config-file.js';

/** The executor's configuration file (JSON). Paths are relative to the file. */
export interface ExecutorConfig {
  /** host:port to serve gRPC (mTLS only) on. */
  listen: string;
  /** The cluster name this executor serves; certificates scoped to another cluster are refused. */
  cluster: string;
  policyFile: string;
  /** The broker's SSH user CA public keys, one OpenSSH line each (TrustedUserCAKeys format). */
  sshUserCaKeysFile: string;
  revocation: { krlFiles: string[]; denyListFiles: string[] };
  /** The mediator tier CA certificates (PEM bundle) whose session grants are accepted. */
  mediatorCaBundleFile: string;
  /** The executor tier CA that issues this server's short-lived serving certificates. */
  executorCa: { certFile: string; keyFile: string };
  serving: { dnsNames: string[]; ipAddresses: string[]; lifetimeSeconds: number };
  audit: { path: string; signingKeyFile: string; checkpointEvery: number };
  /** Kubeconfig of the executor's own identity; absent: in-cluster ServiceAccount. */
  kubeconfig?: string;
  /** How long open streams may finish after SIGTERM. */
  /** Local operations endpoint: /healthz, /readyz, /metrics. Absent: not served. */
  ops?: { listen: string };
  drainSeconds: number;
  logLevel: string;
}

const paths = { type: 'array', items: { type: 'string', minLength: 1 }, default: [] };

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
    listen: { type: 'string', pattern: '^.+:[0-9]{1,5}$' },
    cluster: { type: 'string', minLength: 1 },
    policyFile: { type: 'string', minLength: 1 },
    sshUserCaKeysFile: { type: 'string', minLength: 1 },
    revocation: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: {},
      properties: { krlFiles: paths, denyListFiles: paths },
    },
    mediatorCaBundleFile: { type: 'string', minLength: 1 },
    executorCa: {
      type: 'object',
      additionalProperties: false,
      required: ['certFile', 'keyFile'],
      properties: { certFile: { type: 'string', minLength: 1 }, keyFile: { type: 'string', minLength: 1 } },
    },
    serving: {
      type: 'object',
      additionalProperties: false,
      required: [],
      properties: {
        dnsNames: { ...paths, default: ['localhost'] },
        ipAddresses: { ...paths, default: ['127.0.0.1'] },
        lifetimeSeconds: { type: 'integer', minimum: 300, maximum: 2_592_000, default: 86_400 },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['path', 'signingKeyFile'],
      properties: {
        path: { type: 'string', minLength: 1 },
        signingKeyFile: { type: 'string', minLength: 1 },
        checkpointEvery: { type: 'integer', minimum: 1, default: 100 },
      },
    },
    kubeconfig: { type: 'string', minLength: 1, nullable: true },
    ops: {
      type: 'object',
      additionalProperties: false,
      required: ['listen'],
      properties: { listen: { type: 'string', pattern: '^.+:[0-9]{1,5}$' } },
    },
    drainSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' },
  },
} as const;

/** Loads the file and resolves every path in it relative to the file. */
export function loadExecutorConfig(path: string): ExecutorConfig {
  const config = loadConfigFile<ExecutorConfig>(path, executorConfigSchema);
  const from = (p: string) => resolveFrom(path, p);
  return {
    ...config,
    policyFile: from(config.policyFile),
    sshUserCaKeysFile: from(config.sshUserCaKeysFile),
    revocation: {
      krlFiles: config.revocation.krlFiles.map(from),
      denyListFiles: config.revocation.denyListFiles.map(from),
    },
    mediatorCaBundleFile: from(config.mediatorCaBundleFile),
    executorCa: { certFile: from(config.executorCa.certFile), keyFile: from(config.executorCa.keyFile) },
    audit: {
      ...config.audit,
      path: from(config.audit.path),
      signingKeyFile: from(config.audit.signingKeyFile),
    },
    ...(config.kubeconfig ? { kubeconfig: from(config.kubeconfig) } : {}),
  };
}
