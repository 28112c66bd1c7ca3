/**
 * The executor's check of a moderated session (issue 24): an intent of a
 * certificate whose scope carries `moderation` runs only with the mediator's
 * claim that `min` moderators other than the owner were watching (and, in
 * approve-each-command mode, which of them approved it), sent as call
 * metadata. Without it the intent is refused with MODERATION_UNAPPROVED, so
 * an unmodified or misconfigured mediator, or a client reaching the executor
 * some other way with a valid grant, cannot skip moderation.
 *
 * Limit (docs/threat-model.md): the claim is the mediator's word. A
 * compromised mediator can name moderators who were not there; the
 * executor's trail then records the claim (`moderated_by`, `approved_by`),
 * and the mediator's `moderation.*` records are the cross-check. Binding it
 * to the moderator's own signed login is future work.
 */
import { type Scope, sameUser, userNameKey } from '../core/policy/index.js';

/** The mediator's claim as the executor read it from the call. */
export interface ModerationClaimSeen {
  readonly moderators: readonly string[];
  readonly approvedBy?: string;
}

/** A denial when a moderated scope's intent lacks a sufficient claim; undefined otherwise. */
export function moderationDenial(
  scope: Scope,
  owner: string,
  claim: ModerationClaimSeen,
): { code: 'MODERATION_UNAPPROVED'; reason: string } | undefined {
  const rule = scope.moderation;
  if (!rule) return undefined;
  const others = new Set(claim.moderators.filter((m) => m !== '' && !sameUser(m, owner)).map(userNameKey));
  if (others.size < rule.min) {
    return {
      code: 'MODERATION_UNAPPROVED',
      reason: `the session needs ${rule.min} moderator${rule.min === 1 ? '' : 's'} other than its owner`,
    };
  }
  if (rule.mode === 'approve-each-command') {
    const by = claim.approvedBy;
    if (by === undefined || sameUser(by, owner) || !others.has(userNameKey(by)))
      return { code: 'MODERATION_UNAPPROVED', reason: 'no moderator approved this intent' };
  }
  return undefined;
}

/** What the executor's `intent.allowed` records of a moderated intent. */
export function moderationDetails(
  scope: Scope,
  ctx: { moderation: ModerationClaimSeen },
): Record<string, unknown> {
  if (!scope.moderation) return {};
  return {
    moderated_by: [...ctx.moderation.moderators],
    ...(ctx.moderation.approvedBy ? { approved_by: ctx.moderation.approvedBy } : {}),
  };
}
