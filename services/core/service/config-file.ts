import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { AirlockError } from '../errors.js';
import type { LogLevel } from '../observability/logging.js';

/**
 * Reads and validates a tier's JSON configuration file once, at start-up.
 * Every bad field is reported by its path; nothing is defaulted silently
 * except what the schema states. Relative paths inside the file are the
 * caller's to resolve with `resolveFrom`. The schema must describe `T`
 * (with `default`s filled in by the validator); the type parameter is the
 * caller's statement of that.
 */
export function loadConfigFile<T>(path: string, schema: object): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AirlockError('CONFIG_INVALID', `cannot read configuration ${path}`, {
      detail: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    const errors = validate.errors ?? [];
    // A `oneOf` of alternative field sets is reported once, as the choice,
    // not as each alternative's missing fields.
    const choices = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
    const reported = errors.filter((e) => !(choices.has(e.instancePath) && e.schemaPath.includes('/oneOf/')));
    throw new AirlockError('CONFIG_INVALID', `configuration ${path} is invalid`, {
      detail: reported.map(formatError).join('\n'),
    });
  }
  return raw as T;
}

/**
 * {@link loadConfigFile}, then the paths in it resolved: `resolvePaths` gets
 * the validated file and `from` (a path relative to the file) and returns the
 * fields it changes; may throw CONFIG_INVALID for checks the schema cannot express.
 */
export function loadTierConfig<T>(
  path: string,
  schema: object,
  resolvePaths: (config: T, from: (p: string) => string) => Partial<T>,
): T {
  const config = loadConfigFile<T>(path, schema);
  return { ...config, ...resolvePaths(config, (p) => resolveFrom(path, p)) };
}

/**
 * A `oneOf` that requires exactly one of `fields` (each with the schema it
 * must then match); reported as the choice (`needs exactly one of: a | b`).
 */
export function exactlyOneOf(fields: Record<string, object>): { required: string[]; properties: object }[] {
  return Object.entries(fields).map(([name, schema]) => ({
    required: [name],
    properties: { [name]: schema },
  }));
}

/** A schema block whose fields all have defaults, so the block itself defaults to `{}`. */
export function defaultedBlock<P extends object>(properties: P) {
  return { type: 'object', additionalProperties: false, required: [], default: {}, properties } as const;
}

function formatError(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
  if (error.keyword === 'additionalProperties') {
    return `${path}: unknown field ${String((error.params as { additionalProperty: string }).additionalProperty)}`;
  }
  if (error.keyword === 'oneOf' && Array.isArray(error.schema)) {
    const sets = (error.schema as { required?: string[] }[]).map((s) => (s.required ?? []).join(' + '));
    return `${path}: needs exactly one of: ${sets.join(' | ')}`;
  }
  if (error.keyword === 'required') {
    return `${path}: missing field ${String((error.params as { missingProperty: string }).missingProperty)}`;
  }
  return `${path}: ${error.message ?? error.keyword}`;
}

/** Where a tier finds its CA: a rotating keyring directory, or fixed files (see `SCHEMA.tierCa`). */
export type TierCaSource = { dir: string } | { certFile: string; keyFile: string };

/** `source` with its paths resolved relative to the configuration file. */
export function resolveTierCaSource(configPath: string, source: TierCaSource): TierCaSource {
  const from = (p: string) => resolveFrom(configPath, p);
  return 'dir' in source
    ? { dir: from(source.dir) }
    : { certFile: from(source.certFile), keyFile: from(source.keyFile) };
}

/** A path from a configuration file, relative to the file's own directory. */
export function resolveFrom(configPath: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(configPath), path);
}

/**
 * The off-pod ack mode of a tier's audit trail (docs/audit-shipping.md): each
 * durable record is acknowledged by the audit store (an OpenTelemetry
 * Collector, OTLP/HTTP) before the action proceeds, or refused with
 * AUDIT_UNAVAILABLE.
 */
export interface OffPodAckConfig {
  /** The store's OTLP/HTTP logs URL, e.g. `http://airlock-audit-store.airlock-system.svc:4318/v1/logs`. */
  endpoint: string;
  /** The trail's origin (`airlock.trail`); default the host name (the pod name). */
  trail?: string;
  /** Give up on one request after this many ms (then AUDIT_UNAVAILABLE). */
  timeoutMs: number;
}

/**
 * `audit.brokerWitness` of the mediator and the executor: the broker that
 * witnesses the tier's checkpoint heads (services/core/audit/broker-witness-client.ts;
 * the broker lists the tier's public key in its `audit.witnessKeyFiles`).
 */
export interface BrokerWitnessConfig {
  /** The broker's base URL, e.g. `https://airlock-broker.airlock-system.svc:8443`. */
  url: string;
  /** The CA bundle (PEM) the broker's serving certificate verifies with; default the system's. */
  caBundleFile?: string;
}

/** A tier's `audit` block (`SCHEMA.audit`; the mediator's adds `witnessSeconds`). */
export interface TierAuditConfig {
  path: string;
  signingKeyFile: string;
  checkpointEvery: number;
  checkpointSeconds: number;
  offPodAck?: OffPodAckConfig;
}

/** The mediator's and the executor's `audit` block: a tier's, plus the witnessing of its checkpoint heads. */
export interface WitnessedAuditConfig extends TierAuditConfig {
  /** How often heads are exchanged (the mediator with the executor; both with the broker). */
  witnessSeconds: number;
  /** The broker that witnesses this tier's checkpoint heads (docs/audit.md). */
  brokerWitness?: BrokerWitnessConfig;
}

/** The revocation lists a tier reads (`SCHEMA.revocation`). */
export interface RevocationConfig {
  krlFiles: string[];
  denyListFiles: string[];
}

/** What the mediator, the door and the executor admit an SSH certificate by (`SCHEMA.sshTrust`). */
export interface SshTrustConfig {
  policyFile: string;
  /** The broker's SSH user CA public keys, one OpenSSH line each (TrustedUserCAKeys format). */
  sshUserCaKeysFile: string;
  revocation: RevocationConfig;
}

/**
 * What the mediator, the door and the executor share: the {@link SshTrustConfig}
 * fields, the `audit` block (`A`: the mediator's adds `witnessSeconds`) and
 * `SCHEMA.service`.
 */
export interface SshTierConfig<A extends TierAuditConfig = TierAuditConfig> extends SshTrustConfig {
  audit: A;
  /** Local operations endpoint: /healthz, /readyz, /metrics. Absent: not served. */
  ops?: { listen: string };
  /** How long open sessions or streams may finish after SIGTERM. */
  drainSeconds: number;
  logLevel: LogLevel;
}

/** {@link loadTierConfig} for an {@link SshTierConfig}: its shared paths are resolved here, the rest by `resolvePaths`. */
export function loadSshTierConfig<T extends SshTierConfig<TierAuditConfig>>(
  path: string,
  schema: object,
  resolvePaths: (config: T, from: (p: string) => string) => Partial<T>,
): T {
  return loadTierConfig<T>(path, schema, (config, from) => ({
    ...resolveSshTrustPaths(config, from),
    ...resolvePaths(config, from),
  }));
}

/** The `audit` block with its paths resolved by `from` (see {@link loadTierConfig}). */
export function resolveAuditPaths<A extends TierAuditConfig>(audit: A, from: (p: string) => string): A {
  const witness = (audit as Partial<WitnessedAuditConfig>).brokerWitness;
  return {
    ...audit,
    path: from(audit.path),
    signingKeyFile: from(audit.signingKeyFile),
    ...(witness?.caBundleFile
      ? { brokerWitness: { ...witness, caBundleFile: from(witness.caBundleFile) } }
      : {}),
  };
}

/** The {@link SshTrustConfig} fields and the `audit` block, their paths resolved by `from`. */
export function resolveSshTrustPaths<A extends TierAuditConfig>(
  config: SshTrustConfig & { audit: A },
  from: (p: string) => string,
): SshTrustConfig & { audit: A } {
  return {
    policyFile: from(config.policyFile),
    sshUserCaKeysFile: from(config.sshUserCaKeysFile),
    revocation: {
      krlFiles: config.revocation.krlFiles.map(from),
      denyListFiles: config.revocation.denyListFiles.map(from),
    },
    audit: resolveAuditPaths(config.audit, from),
  };
}

/** A closed JSON Schema object: exactly `properties`, `required` among them. */
function closedObject<P extends Record<string, object>>(
  required: readonly (keyof P & string)[],
  properties: P,
) {
  return { type: 'object', additionalProperties: false, required, properties } as const;
}

const BROKER_WITNESS_SCHEMA = closedObject(['url'], {
  url: { type: 'string', pattern: '^https://[^\\s]+$' },
  caBundleFile: { type: 'string', minLength: 1 },
});

const OFF_POD_ACK_SCHEMA = closedObject(['endpoint'], {
  endpoint: { type: 'string', pattern: '^https?://[^\\s]+$' },
  trail: { type: 'string', minLength: 1, maxLength: 253 },
  timeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 5000 },
});

/** JSON Schema pieces every tier's configuration shares. */
export const SCHEMA = (() => {
  const file = { type: 'string', minLength: 1 };
  const files = { type: 'array', items: file, default: [] };
  const listen = { type: 'string', pattern: '^.+:[0-9]{1,5}$' };
  const revocation = defaultedBlock({ krlFiles: files, denyListFiles: files });
  const audit = {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'signingKeyFile'],
    properties: {
      path: file,
      signingKeyFile: file,
      checkpointEvery: { type: 'integer', minimum: 1, default: 100 },
      checkpointSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
      offPodAck: OFF_POD_ACK_SCHEMA,
    },
  } as const;
  const ops = {
    type: 'object',
    additionalProperties: false,
    required: ['listen'],
    properties: { listen },
  } as const;
  const drainSeconds = { type: 'integer', minimum: 0, maximum: 3600, default: 30 } as const;
  const logLevel = {
    type: 'string',
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    default: 'info',
  } as const;
  return {
    file,
    files,
    listen,
    offPodAck: OFF_POD_ACK_SCHEMA,
    /**
     * A tier CA: a keyring directory (`airlock ca rotate`; re-read when it
     * changes), or, without rotation, certificate and private key files.
     */
    tierCa: {
      type: 'object',
      additionalProperties: false,
      properties: { dir: file, certFile: file, keyFile: file },
      oneOf: [
        { required: ['dir'], properties: { dir: file } },
        { required: ['certFile', 'keyFile'], properties: { certFile: file, keyFile: file } },
      ],
    },
    revocation,
    /** The broker's `audit` block: a tier's, without `witnessSeconds`. */
    brokerAudit: audit,
    audit: {
      ...audit,
      properties: {
        ...audit.properties,
        // mediator: how often an open session exchanges checkpoint heads with the executor;
        // both: how often the head goes to the broker (brokerWitness)
        witnessSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 10 },
        brokerWitness: BROKER_WITNESS_SCHEMA,
      },
    },
    ops,
    drainSeconds,
    logLevel,
    /** The fields of {@link SshTrustConfig}: what the mediator, door and executor admit certificates by. */
    sshTrust: { policyFile: file, sshUserCaKeysFile: file, revocation },
    /** The operations endpoint, drain time and log level of a long-running SSH or gRPC tier. */
    service: { ops, drainSeconds, logLevel },
    /** The pre-login and per-principal limits of an SSH front (the mediator and the door). */
    sshFrontLimits: {
      preAuthTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 20 },
      maxUnauthenticatedPerSource: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
      maxSessionsPerPrincipal: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
    },
  } as const;
})();
