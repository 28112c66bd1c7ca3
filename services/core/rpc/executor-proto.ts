import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../repo/repo-root.js';

/**
 * Loads proto/airlock/v1/executor.proto. Options: field names as written
 * (snake_case), int64 as JS numbers, unset fields as defaults, and a virtual
 * `frame` field naming which member of a oneof is set.
 */
let loaded: grpc.ServiceClientConstructor | undefined;

export function loadExecutorService(): grpc.ServiceClientConstructor {
  // Parsing the .proto runs code generation: once per process, not per client.
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(join(repoRoot(), 'proto', 'airlock', 'v1', 'executor.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    airlock: { v1: { Executor: grpc.ServiceClientConstructor } };
  };
  loaded = pkg.airlock.v1.Executor;
  return loaded;
}

/** Metadata key naming the session on every RPC after OpenSession. */
export const SESSION_METADATA_KEY = 'airlock-session-id';
/**
 * A moderated session's intent call: the moderators joined (the mediator's
 * claim), as one value made by {@link encodeModerators}.
 */
export const MODERATORS_METADATA_KEY = 'airlock-moderator';

/**
 * The moderators of a claim as one metadata value: each name
 * percent-encoded (`encodeURIComponent`), joined by `,`. One value, not one
 * per name: HTTP/2 joins repeated headers into one `a, b` string, which
 * grpc-js hands on as a single value, so a claim of five moderators reached
 * the executor as one. Percent-encoding keeps the value printable ASCII (as
 * gRPC metadata must be) and a `,` inside a name from splitting it in two.
 */
export function encodeModerators(names: readonly string[]): string {
  return names.map(encodeURIComponent).join(',');
}

/** What `encodeURIComponent` can produce: anything else was not made by {@link encodeModerators}. */
const ENCODED_NAME = /^(?:[A-Za-z0-9\-_.!~*'()]|%[0-9A-F]{2})+$/;

/**
 * The executor's reading of {@link MODERATORS_METADATA_KEY}: the names, or
 * none when the metadata is absent or is not exactly one value that
 * {@link encodeModerators} made (then the intent of a moderated session is
 * refused: fail closed).
 */
export function decodeModerators(values: readonly (string | Buffer)[]): string[] {
  const [value] = values;
  if (values.length !== 1 || typeof value !== 'string' || value === '') return [];
  const parts = value.split(',');
  if (!parts.every((part) => ENCODED_NAME.test(part))) return [];
  try {
    const names = parts.map(decodeURIComponent);
    // Only the canonical form: `%41` for `A` was not made by encodeModerators.
    return encodeModerators(names) === value ? names : [];
  } catch {
    return [];
  }
}
/** A moderated session's intent call in approve-each-command mode: the moderator who approved it. */
export const APPROVED_BY_METADATA_KEY = 'airlock-approved-by';
/** Trailing metadata key carrying the stable airlock error code. */
export const CODE_METADATA_KEY = 'airlock-code';
