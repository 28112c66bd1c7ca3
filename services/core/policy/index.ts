/**
 * The airlock policy: a JSON file of profiles, approval rules and runbooks,
 * and the pure functions that evaluate it. See docs/policy.md.
 */
export { ARGV_LIMITS, checkArgvShape } from './argv.js';
export { authorizeArgv, authorizeIntent } from './authorize.js';
export { withinBusinessHours } from './auto-approve.js';
export { canApprove, decideRequest, effectiveMaxTtl, MAX_REASON_LENGTH, roleGroups } from './decide.js';
export { globMatch, globSubsumes } from './glob.js';
export { type GroupScope, type GroupUniverse, jitGroupNames, renderGroups } from './groups.js';
export * from './kube-impersonation.js';
export { argvPatternSubsumes, lintPolicy } from './lint.js';
export * from './rbac.js';
export { policyRunbook, runbookScope, runbookStepsDigest } from './runbook.js';
export * from './types.js';
export { sameUser, userNameKey } from './user-names.js';
export { formatPolicyErrors, loadPolicy, policySchema, validatePolicy } from './validate.js';
