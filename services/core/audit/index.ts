/** The audit-trail library: event schema, file and in-memory trails, verifier. */
export { canonicalJson, sha256Hex } from './canonical-json.js';
export { auditKeyId, type ChainHead, checkpointSignatureValid } from './chain.js';
export {
  createFileAuditTrail,
  type FileAuditTrail,
  type FileAuditTrailOptions,
  rotatedAuditPath,
} from './file-audit-trail.js';
export { type AuditStorage, type FileSink, nodeAuditStorage } from './file-sink.js';
export { type InMemoryAuditEntry, InMemoryAuditTrail } from './in-memory-audit-trail.js';
export * from './types.js';
export {
  type AuditProblem,
  type AuditProblemKind,
  type AuditTrailSource,
  type AuditVerifyOptions,
  type AuditVerifyResult,
  verifyAuditFiles,
  verifyAuditTrail,
} from './verify.js';
