import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { AirlockError } from './errors.js';

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
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    throw new AirlockError('CONFIG_INVALID', `configuration ${path} is invalid`, {
      detail: (validate.errors ?? []).map(formatError).join('\n'),
    });
  }
  return raw as T;
}

function formatError(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
  if (error.keyword === 'additionalProperties') {
    return `${path}: unknown field ${String((error.params as { additionalProperty: string }).additionalProperty)}`;
  }
  if (error.keyword === 'required') {
    return `${path}: missing field ${String((error.params as { missingProperty: string }).missingProperty)}`;
  }
  return `${path}: ${error.message ?? error.keyword}`;
}

/** A path from a configuration file, relative to the file's own directory. */
export function resolveFrom(configPath: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(configPath), path);
}

/** JSON Schema pieces every tier's configuration shares. */
export const SCHEMA = (() => {
  const file = { type: 'string', minLength: 1 };
  const files = { type: 'array', items: file, default: [] };
  const listen = { type: 'string', pattern: '^.+:[0-9]{1,5}$' };
  return {
    file,
    files,
    listen,
    /** A tier CA: certificate and private key files. */
    tierCa: {
      type: 'object',
      additionalProperties: false,
      required: ['certFile', 'keyFile'],
      properties: { certFile: file, keyFile: file },
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
      },
    },
    ops: { type: 'object', additionalProperties: false, required: ['listen'], properties: { listen } },
    drainSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' },
  } as const;
})();
