/**
 * The graceful end of a tier's trail (docs/audit-shipping.md "Graceful
 * end"): `close()` writes the signed `close` checkpoint and, in the off-pod
 * ack mode, resolves only once the audit store has acknowledged it. This
 * names the outcome for the operator: the checkpoint it ended with, or why
 * it could not, so a tier that exits with its close checkpoint not shipped
 * says so instead of exiting silently.
 */
import { AirlockError } from '../errors.js';
import type { AuditTrail } from './types.js';

/** How a trail ended. */
export type TrailEnd =
  | { readonly closed: true; readonly seq: number; readonly message: string }
  | { readonly closed: false; readonly error: AirlockError };

/**
 * Closes `audit` and reports whether its last durable record is the `close`
 * checkpoint. Never throws: the tier still releases everything else and
 * exits. `offPodAck`: the trail acknowledges off the pod (the wording says
 * where the checkpoint went). Bounded by the trail: a send to the store gives
 * up after its `timeoutMs`.
 */
export async function closeTrail(audit: AuditTrail, offPodAck: boolean): Promise<TrailEnd> {
  const where = offPodAck ? 'shipped off the pod' : 'written';
  let cause: unknown;
  try {
    await audit.close();
  } catch (error) {
    cause = error;
  }
  const last = audit.latestCheckpoint();
  if (cause === undefined && last?.reason === 'close') {
    const acked = offPodAck ? ', acknowledged by the audit store' : '';
    return {
      closed: true,
      seq: last.seq,
      message: `audit trail closed: close checkpoint seq ${last.seq}${acked}`,
    };
  }
  // A trail that had failed before the end gets no close checkpoint at all (file-audit-trail.ts).
  const reason =
    cause instanceof AirlockError
      ? (cause.detail ?? cause.message)
      : cause === undefined
        ? 'the audit trail had failed before the end'
        : String(cause);
  return {
    closed: false,
    error: new AirlockError('AUDIT_UNAVAILABLE', `the close checkpoint was not ${where}`, {
      detail: reason,
      ...(cause === undefined ? {} : { cause }),
    }),
  };
}
