import * as grpc from '@grpc/grpc-js';
import { AirlockError, type ErrorCode, isErrorCode } from '../errors.js';
import { CODE_METADATA_KEY } from './executor-proto.js';

/** The gRPC status each airlock code travels as; anything unlisted is PERMISSION_DENIED. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, grpc.status>> = {
  USAGE: grpc.status.INVALID_ARGUMENT,
  CERT_MALFORMED: grpc.status.UNAUTHENTICATED,
  CERT_UNTRUSTED_CA: grpc.status.UNAUTHENTICATED,
  CERT_BAD_CA_SIGNATURE: grpc.status.UNAUTHENTICATED,
  CERT_NOT_USER: grpc.status.UNAUTHENTICATED,
  CERT_NOT_YET_VALID: grpc.status.UNAUTHENTICATED,
  CERT_EXPIRED: grpc.status.UNAUTHENTICATED,
  CERT_PRINCIPAL_MISMATCH: grpc.status.UNAUTHENTICATED,
  CERT_SOURCE_ADDRESS: grpc.status.UNAUTHENTICATED,
  CERT_UNKNOWN_CRITICAL_OPTION: grpc.status.UNAUTHENTICATED,
  CERT_REVOKED: grpc.status.UNAUTHENTICATED,
  CERT_BAD_SIGNATURE: grpc.status.UNAUTHENTICATED,
  CERT_SCOPE_INVALID: grpc.status.UNAUTHENTICATED,
  GRANT_INVALID: grpc.status.UNAUTHENTICATED,
  SESSION_UNKNOWN: grpc.status.UNAUTHENTICATED,
  SESSION_EXPIRED: grpc.status.DEADLINE_EXCEEDED,
  KUBERNETES_NOT_FOUND: grpc.status.NOT_FOUND,
  KUBERNETES_ERROR: grpc.status.UNAVAILABLE,
  KUBE_CREDENTIALS_UNAVAILABLE: grpc.status.UNAVAILABLE,
  KUBERNETES_UNAVAILABLE: grpc.status.UNAVAILABLE,
  OUTPUT_INCOMPLETE: grpc.status.DATA_LOSS,
  EXECUTOR_UNAVAILABLE: grpc.status.UNAVAILABLE,
  EXECUTOR_SHUTDOWN: grpc.status.UNAVAILABLE,
  AUDIT_UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
};

/**
 * The one mapping from an error to what goes on the wire: a gRPC status,
 * the short user-facing reason as details, and the stable code in trailing
 * metadata. Errors without an airlock code become INTERNAL with a generic
 * reason (details go to the log, never to the peer).
 */
export function toGrpcError(error: unknown): Partial<grpc.StatusObject> {
  const airlock =
    error instanceof AirlockError ? error : new AirlockError('INTERNAL', 'internal error', { cause: error });
  const metadata = new grpc.Metadata();
  metadata.set(CODE_METADATA_KEY, airlock.code);
  return {
    code: STATUS_BY_CODE[airlock.code] ?? grpc.status.PERMISSION_DENIED,
    details: airlock.message,
    metadata,
  };
}

/**
 * The client side of the mapping: turns a gRPC error back into an
 * AirlockError with the code the executor sent (EXECUTOR_UNAVAILABLE when
 * the executor could not be reached or sent no code).
 */
export function fromGrpcError(error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  const service = error as Partial<grpc.ServiceError>;
  const code = service.metadata?.get(CODE_METADATA_KEY)[0];
  if (typeof code === 'string' && isErrorCode(code)) {
    return new AirlockError(code, service.details ?? code, { cause: error });
  }
  return new AirlockError('EXECUTOR_UNAVAILABLE', 'the executor is unavailable', {
    detail: service.details ?? String(error),
    cause: error,
  });
}
