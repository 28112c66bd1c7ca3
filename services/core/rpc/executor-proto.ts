import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../repo-root.js';

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
/** A moderated session's intent call: one value per moderator joined (the mediator's claim). */
export const MODERATORS_METADATA_KEY = 'airlock-moderator';
/** A moderated session's intent call in approve-each-command mode: the moderator who approved it. */
export const APPROVED_BY_METADATA_KEY = 'airlock-approved-by';
/** Trailing metadata key carrying the stable airlock error code. */
export const CODE_METADATA_KEY = 'airlock-code';
