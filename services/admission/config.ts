/**
 * The CSR approval webhook's configuration file (JSON), validated once at
 * start-up; paths are relative to the file. The allowed groups come from the
 * same policy file and the same cluster and namespaces that
 * `airlock policy rbac` renders the executor's RBAC for, so a certificate
 * can carry exactly the groups RBAC knows about.
 */

import type { LogLevel } from '../core/observability/logging.js';
import { CLUSTER_NAME, NAMESPACE_NAME } from '../core/policy/groups.js';
import { loadTierConfig, SCHEMA } from '../core/service/config-file.js';

export interface AdmissionConfig {
  /** host:port of the HTTPS endpoint the API server calls. */
  listen: string;
  /** The serving certificate (PEM, chain allowed) and its private key; the webhook configuration's caBundle must trust it. */
  tls: { certFile: string; keyFile: string };
  policyFile: string;
  /** The cluster name the groups are rendered for (as the executor's `cluster`). */
  cluster: string;
  /** The namespaces airlock serves on this cluster (as `airlock policy rbac --namespace`). */
  namespaces: string[];
  /** Local operations endpoint: /healthz, /readyz, /metrics. Absent: not served. */
  ops?: { listen: string };
  logLevel: LogLevel;
}

export const admissionConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'tls', 'policyFile', 'cluster', 'namespaces'],
  properties: {
    $schema: { type: 'string' },
    listen: SCHEMA.listen,
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['certFile', 'keyFile'],
      properties: { certFile: SCHEMA.file, keyFile: SCHEMA.file },
    },
    policyFile: SCHEMA.file,
    cluster: { type: 'string', pattern: CLUSTER_NAME.source },
    namespaces: {
      type: 'array',
      items: { type: 'string', pattern: NAMESPACE_NAME.source },
      minItems: 1,
      uniqueItems: true,
    },
    ops: SCHEMA.ops,
    logLevel: SCHEMA.logLevel,
  },
} as const;

/** Loads the file and resolves every path in it relative to the file. */
export function loadAdmissionConfig(path: string): AdmissionConfig {
  return loadTierConfig<AdmissionConfig>(path, admissionConfigSchema, (config, from) => ({
    tls: { certFile: from(config.tls.certFile), keyFile: from(config.tls.keyFile) },
    policyFile: from(config.policyFile),
  }));
}
