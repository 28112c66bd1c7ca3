/**
 * Revocations from the request store into this broker's revocation lists.
 *
 * With two or more replicas each one writes the revocations it performs to
 * its own lists and publishes them to the ConfigMap at once (a union: no
 * replica removes another's entries). A replica that dies between its
 * revoke and a successful publish would take that entry with it (its lists
 * are on an emptyDir); the database still says `revoked`. The replica that
 * holds the sweep lock therefore adds every revoked request of the store to
 * its own lists (once per process: it remembers what it has added) and asks
 * for a publish when it added any, so the ConfigMap converges to the
 * database within one sweep period.
 */
import { revocationEntryOf } from './access-broker.js';
import type { DenyListWriter } from './deny-list.js';
import type { RequestStore } from './request-store.js';

/** `run()` adds what it has not added yet; resolves to how many entries. */
export function createRevocationCatchUp(deps: {
  readonly store: RequestStore;
  readonly lists: DenyListWriter;
  /** Called after entries were added (e.g. the ConfigMap publisher's `request`). */
  readonly onAdded?: () => void;
}): { run(): Promise<number> } {
  const added = new Set<string>();
  return {
    async run() {
      let count = 0;
      for (const request of await deps.store.list({ status: 'revoked' })) {
        if (added.has(request.id)) continue;
        await deps.lists.revoke(revocationEntryOf(request));
        added.add(request.id);
        count++;
      }
      if (count > 0) deps.onAdded?.();
      return count;
    },
  };
}
