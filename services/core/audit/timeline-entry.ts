/**
 * The data model of `airlock audit timeline`: lanes, entries, filters.
 * Parsing is in timeline-parse.ts, merging and filtering in timeline.ts,
 * the text and JSON renderings in timeline-text.ts, the HTML page in
 * timeline-html.ts.
 */
/**
 * The columns of a timeline: the three tiers, the API server, and the
 * orphans `airlock audit reconcile` finds (timeline-orphans.ts).
 */
export const TIMELINE_LANES = ['broker', 'mediator', 'executor', 'kubernetes', 'orphan'] as const;
export type TimelineLane = (typeof TIMELINE_LANES)[number];

/** A recording referenced by an entry (`details.recording`, `details.recording_sha256`). */
export interface TimelineRecordingRef {
  readonly path: string;
  readonly sha256: string | undefined;
}

/** One entry of the merged timeline. */
export interface TimelineEntry {
  /** RFC 3339 time as written by the source. */
  readonly time: string;
  readonly lane: TimelineLane;
  /** The airlock event name, or the Kubernetes verb. */
  readonly event: string;
  /** Who acted, for display (`alice`, `alice (as airlock:session)`). */
  readonly actor: string;
  /** What was acted on, for display (`pods/exec payments/api-0 [app] -- ps aux`). */
  readonly target: string;
  readonly decision: 'allow' | 'deny' | undefined;
  /** Airlock error code, or the Kubernetes HTTP status as a string. */
  readonly code: string | undefined;
  readonly session_id: string | undefined;
  readonly request_id: string | undefined;
  readonly trace_id: string | undefined;
  /** Reason and notable details in one line. */
  readonly summary: string;
  /** The user the entry is about: `actor.user`, or the airlock user / username of a Kubernetes event. */
  readonly user: string | undefined;
  readonly recording: TimelineRecordingRef | undefined;
  /**
   * When the action began, where the source says so and it differs from
   * `time`: a Kubernetes event's `requestReceivedTimestamp` (its `time` is
   * the `stageTimestamp`, when the response completed).
   */
  readonly started?: string;
  /** The command of a Kubernetes exec or attach: the `command=` parameters of its `requestURI`. */
  readonly command?: readonly string[];
  /** What else the source says, as key/value pairs (the HTML page's details table). */
  readonly details?: readonly (readonly [string, string])[];
  /** Where the entry came from. */
  readonly source: { readonly file: string; readonly line: number };
}

/** A line that was neither an airlock record nor a Kubernetes audit event. */
export interface TimelineSkippedLine {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

/** What `parseTimelineSource` found in one input. */
export interface TimelineSourceResult {
  readonly entries: TimelineEntry[];
  /** Airlock records, checkpoints and Kubernetes events recognised (entries plus skipped checkpoints and duplicate stages). */
  readonly recognised: number;
  readonly skipped: TimelineSkippedLine[];
}

/** Filters; all given ones must hold. */
export interface TimelineFilter {
  readonly session?: string;
  readonly trace?: string;
  readonly request?: string;
  readonly user?: string;
  /** Inclusive bounds. */
  readonly since?: Date;
  readonly until?: Date;
}
