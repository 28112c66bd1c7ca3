/**
 * The broker's `store` configuration: SQLite (default, one replica) or
 * PostgreSQL (two or more replicas), a JSON store of an earlier broker to
 * import once, and how long requests are kept. The legacy `storeFile`
 * (a JSON store path) alone still works: SQLite next to it, importing it.
 */
import { readFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors.js';
import { exactlyOneOf } from '../../core/service/config-file.js';
import type { PostgresSettings } from './postgres.js';

/** Config `store`. Paths are relative to the config file. */
export interface StoreConfig {
  /** A SQLite database file (created 0600 if missing). */
  sqlite?: { path: string };
  /** A PostgreSQL server; exactly one of `sqlite` and `postgres`. */
  postgres?: {
    /** `postgres://user:password@host:port/db`. Exactly one of url and urlFile. */
    url?: string;
    /** A file holding the URL (a Kubernetes Secret volume), read at start-up. */
    urlFile?: string;
    /** PEM bundle the server's certificate must chain to; absent: the system store. */
    caFile?: string;
    /** `verify` (default): TLS with certificate and host name checks; `disable`: loopback/Unix socket only. */
    tls: 'verify' | 'disable';
    poolSize: number;
    connectTimeoutSeconds: number;
  };
  /** A JSON request store (schema 1 or 2) imported once, then renamed `<file>.imported.bak`. */
  importJsonFile?: string;
  /** Requests created longer ago than this are pruned (default 90; the audit trail keeps everything). */
  retentionDays: number;
}

const nonEmpty = { type: 'string', minLength: 1 } as const;

/** JSON Schema of config `store`. */
export const storeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  oneOf: exactlyOneOf({ sqlite: { type: 'object' }, postgres: { type: 'object' } }),
  properties: {
    sqlite: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: { path: nonEmpty },
    },
    postgres: {
      type: 'object',
      additionalProperties: false,
      oneOf: exactlyOneOf({ url: { type: 'string' }, urlFile: { type: 'string' } }),
      properties: {
        url: { type: 'string', pattern: '^postgres(ql)?://' },
        urlFile: nonEmpty,
        caFile: nonEmpty,
        tls: { enum: ['verify', 'disable'], default: 'verify' },
        poolSize: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
        connectTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 120, default: 5 },
      },
    },
    importJsonFile: nonEmpty,
    retentionDays: { type: 'integer', minimum: 1, maximum: 36_500, default: 90 },
  },
} as const;

/** The store a config names: `store`, or the legacy `storeFile` as SQLite beside it. */
export function effectiveStoreConfig(config: { store?: StoreConfig; storeFile?: string }): StoreConfig {
  if (config.store !== undefined) return config.store;
  if (config.storeFile === undefined) {
    throw new AirlockError('CONFIG_INVALID', 'the broker needs store (or the legacy storeFile)');
  }
  const base = config.storeFile.replace(/\.json$/, '');
  return { sqlite: { path: `${base}.db` }, importJsonFile: config.storeFile, retentionDays: 90 };
}

/** `store` with its paths resolved by `from`. */
export function resolveStorePaths(store: StoreConfig, from: (p: string) => string): StoreConfig {
  const pg = store.postgres;
  return {
    ...store,
    ...(store.sqlite ? { sqlite: { path: from(store.sqlite.path) } } : {}),
    ...(pg
      ? {
          postgres: {
            ...pg,
            ...(pg.urlFile ? { urlFile: from(pg.urlFile) } : {}),
            ...(pg.caFile ? { caFile: from(pg.caFile) } : {}),
          },
        }
      : {}),
    ...(store.importJsonFile ? { importJsonFile: from(store.importJsonFile) } : {}),
  };
}

/** Reads the URL and CA files of `postgres` (a URL file may end in a newline). */
export async function postgresSettings(pg: NonNullable<StoreConfig['postgres']>): Promise<PostgresSettings> {
  const url = pg.url ?? (await readFile(pg.urlFile ?? '', 'utf8')).trim();
  return {
    url,
    tls: pg.tls ?? 'verify',
    poolSize: pg.poolSize ?? 10,
    connectTimeoutMs: (pg.connectTimeoutSeconds ?? 5) * 1000,
    ...(pg.caFile === undefined ? {} : { ca: await readFile(pg.caFile, 'utf8') }),
  };
}
