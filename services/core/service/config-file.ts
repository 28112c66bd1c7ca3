import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { AirlockError } from '../errors.js';

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
    revocation: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: {},
      properties: { krlFiles: files, denyListFiles: files },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['path', 'signingKeyFile'],
      properties: {
        path: file,
        signingKeyFile: file,
        checkpointEvery: { type: 'integer', minimum: 1, default: 100 },
        checkpointSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
        offPodAck: OFF_POD_ACK_SCHEMA,
        // mediator: how often an open session exchanges checkpoint heads with the executor;
        // both: how often the head goes to the broker (brokerWitness)
        witnessSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 10 },
        brokerWitness: BROKER_WITNESS_SCHEMA,
      },
    },
    ops: { type: 'object', additionalProperties: false, required: ['listen'], properties: { listen } },
    drainSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' },
  } as const;
})();
