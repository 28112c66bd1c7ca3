/**
 * The timeline's `orphan` lane: entries that `reconcile` (reconcile.ts)
 * reports move there, so a reviewer sees access that went around airlock,
 * and actions the API server never saw, apart from the rest (red in HTML).
 */
import {
  type KubeAuditSlice,
  parseAirlockPodActions,
  parseKubeAuditSlice,
  type ReconcileResult,
  reconcile,
} from './reconcile.js';
import type { TimelineEntry } from './timeline-entry.js';

/**
 * Reconciles the inputs of a timeline, or undefined when none of them is a
 * Kubernetes audit log (nothing to hold the trails against).
 */
export function reconcileTimelineSources(
  sources: readonly { readonly name: string; readonly content: string }[],
): ReconcileResult | undefined {
  const slices: KubeAuditSlice[] = sources
    .map((s) => parseKubeAuditSlice(s.name, s.content))
    .filter((slice) => slice.from !== undefined);
  if (slices.length === 0) return undefined;
  return reconcile(
    slices,
    sources.flatMap((s) => parseAirlockPodActions(s.name, s.content)),
  );
}

/** The entries with every orphan moved to the `orphan` lane and its summary saying why. */
export function markTimelineOrphans(
  entries: readonly TimelineEntry[],
  result: ReconcileResult,
): TimelineEntry[] {
  const why = new Map<string, string>();
  for (const o of result.kubeOrphans)
    why.set(`${o.source.file}:${o.source.line}`, 'ORPHAN: no authorized airlock action [AUDIT_ORPHAN]');
  for (const o of result.airlockOrphans)
    why.set(`${o.source.file}:${o.source.line}`, 'ORPHAN: never seen by the API server [AUDIT_ORPHAN]');
  return entries.map((e) => {
    const reason = why.get(`${e.source.file}:${e.source.line}`);
    if (reason === undefined) return e;
    return { ...e, lane: 'orphan', summary: e.summary === '' ? reason : `${reason}; ${e.summary}` };
  });
}
