import type { Scope } from '../policy/types.js';
import type { AirlockScope } from '../ssh-cert/airlock-scope.js';

/**
 * The one place a certificate's verified scope becomes the `Scope` that
 * `authorizeIntent` decides on. Every tier and every call site uses it, so a
 * member added to the certificate cannot be forgotten in one of them (the
 * runbook once was: security review finding 1).
 *
 * Optional members are carried over only when present: absent `runbook`
 * means no runbook, absent `containerPatterns` means every container,
 * absent `moderation` means not moderated, absent `moderator` means no
 * moderator role.
 */
export function scopeOf(scope: AirlockScope): Scope {
  return {
    profile: scope.profile,
    cluster: scope.cluster,
    namespace: scope.namespace,
    podPatterns: [...scope.podPatterns],
    groups: [...scope.groups],
    ...(scope.runbook === undefined
      ? {}
      : { runbook: { name: scope.runbook.name, stepsDigest: scope.runbook.stepsDigest } }),
    ...(scope.containerPatterns === undefined ? {} : { containerPatterns: [...scope.containerPatterns] }),
    ...(scope.moderation === undefined
      ? {}
      : {
          moderation: {
            requiredGroups: [...scope.moderation.requiredGroups],
            min: scope.moderation.min,
            mode: scope.moderation.mode,
          },
        }),
    ...(scope.moderator === undefined
      ? {}
      : {
          moderator: {
            groups: [...scope.moderator.groups],
            ...(scope.moderator.role === undefined ? {} : { role: scope.moderator.role }),
          },
        }),
  };
}
