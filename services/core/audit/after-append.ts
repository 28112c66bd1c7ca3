import type { AuditEventInput, AuditTrail } from './types.js';

/** `trail` with `after(event)` called once each append has resolved (written, durable when asked). */
export function afterAppend(trail: AuditTrail, after: (event: AuditEventInput) => void): AuditTrail {
  return {
    append: async (event, options) => {
      await trail.append(event, options);
      after(event);
    },
    latestCheckpoint: () => trail.latestCheckpoint(),
    checkpoint: () => trail.checkpoint(),
    close: () => trail.close(),
    healthy: () => trail.healthy(),
    get lastError() {
      return trail.lastError;
    },
  };
}
