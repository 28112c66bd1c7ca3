/**
 * Why a request missed auto-approval, from the reasons the broker's policy
 * decision carries (`profiles.P.approval.autoApprove[i](id): condition`, one
 * per failed condition, as `airlock policy explain` shows them): the rules
 * that came nearest — fewest failed conditions — each with what it lacked.
 */

const RULE_REASON = /^profiles\.[^\s]+?\.approval\.autoApprove\[(\d+)\](?:\(([^)]*)\))?: (.+)$/;

/**
 * `incident: reason does not match /^INC-[0-9]{4,8}\b/`, one line per
 * nearest rule (named by its id, else `autoApprove[i]`); empty when the
 * reasons name no auto-approve rule.
 */
export function nearestAutoApprovalMisses(reasons: readonly string[] | undefined): string[] {
  const byRule = new Map<string, string[]>();
  for (const reason of reasons ?? []) {
    const match = RULE_REASON.exec(reason);
    if (!match) continue;
    const name = match[2] ?? `autoApprove[${match[1]}]`;
    byRule.set(name, [...(byRule.get(name) ?? []), match[3]!]);
  }
  if (byRule.size === 0) return [];
  const fewest = Math.min(...[...byRule.values()].map((failed) => failed.length));
  return [...byRule]
    .filter(([, failed]) => failed.length === fewest)
    .map(([name, failed]) => `${name}: ${failed.join('; ')}`);
}
