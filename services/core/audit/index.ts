/** The audit-trail library: event schema, file and in-memory trails, verifier. */

export {
  type Asciicast,
  type AsciicastEventCode,
  AsciicastFormatError,
  type AsciicastFrame,
  type AsciicastHeader,
  formatAsciicastFrame,
  formatAsciicastHeader,
  isAsciicastHeaderLine,
  parseAsciicast,
  stripAnsi,
} from './asciicast.js';
export { canonicalJson, sha256Hex } from './canonical-json.js';
export { auditKeyId, type ChainHead, checkpointSignatureValid } from './chain.js';
export { closeTrail, type TrailEnd } from './close-trail.js';
export {
  auditHeadPath,
  createFileAuditTrail,
  type FileAuditTrail,
  type FileAuditTrailOptions,
  rotatedAuditPath,
} from './file-audit-trail.js';
export { type AuditStorage, type FileSink, nodeAuditStorage } from './file-sink.js';
export { type InMemoryAuditEntry, InMemoryAuditTrail } from './in-memory-audit-trail.js';
export { type OtlpAckOptions, otlpAckStorage, otlpLogsRequest } from './otlp-ack-storage.js';
export {
  type AirlockPodAction,
  type KubeAuditSlice,
  type KubePodAccess,
  parseAirlockPodActions,
  parseKubeAuditSlice,
  RECONCILED_SUBRESOURCES,
  type ReconcileResult,
  reconcile,
} from './reconcile.js';
export {
  assembleShippedTrails,
  type CollectedFile,
  parseShippedLogs,
  type ShippedLine,
  type ShippedProblem,
  TRAIL_FILE_ATTRIBUTE,
  TRAIL_RESOURCE_ATTRIBUTE,
} from './shipped-trail.js';
export { buildTimeline, describeTimelineFilter, filterTimeline, mergeTimeline } from './timeline.js';
export {
  TIMELINE_LANES,
  type TimelineEntry,
  type TimelineFilter,
  type TimelineLane,
  type TimelineRecordingRef,
  type TimelineSkippedLine,
  type TimelineSourceResult,
} from './timeline-entry.js';
export {
  playableFrames,
  renderTimelineHtml,
  type TimelineHtmlInput,
  type TimelineRecording,
} from './timeline-html.js';
export { htmlEscape } from './timeline-html-escape.js';
export { markTimelineOrphans, reconcileTimelineSources } from './timeline-orphans.js';
export { kubernetesAction, kubernetesCommand, parseTimelineSource } from './timeline-parse.js';
export {
  accessAfterRevocation,
  entryOutcome,
  summariseTimeline,
  type TimelineGroupSummary,
  type TimelineOutcome,
} from './timeline-summary.js';
export { renderTimelineJson, renderTimelineText, terminalSafe } from './timeline-text.js';
export * from './types.js';
export {
  AUDIT_PROBLEM_CODES,
  type AuditProblem,
  type AuditProblemKind,
  type AuditTrailSource,
  type AuditUnsignedTail,
  type AuditVerifyOptions,
  type AuditVerifyResult,
  verifyAuditFiles,
  verifyAuditTrail,
} from './verify.js';
export {
  type CheckpointWitness,
  checkWitnessedHeads,
  createCheckpointWitness,
  MAX_WITNESS_HEAD_BYTES,
  parseWitnessedHead,
  type UncheckedWitness,
  WITNESS_EVENT,
  type WitnessCheckResult,
  type WitnessTrailInput,
  witnessEvent,
} from './witness.js';
