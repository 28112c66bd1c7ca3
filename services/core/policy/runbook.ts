/**
 * Runbooks as session certificates name them: the runbook's name and a
 * digest of its steps. The broker signs both into the scope; `authorizeIntent`
 * compares the digest with the steps the current policy has, so a runbook
 * edited or removed after issue no longer runs under the old certificate.
 */
import { createHash } from 'node:crypto';
import type { Policy, Runbook, ScopeRunbook } from './types.js';

/**
 * `sha256:` and the hex SHA-256 of the steps as JSON (an array of argv
 * arrays; JSON.stringify of strings and arrays is canonical).
 */
export function runbookStepsDigest(steps: Runbook['steps']): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(steps)).digest('hex')}`;
}

/** The policy's runbook `name`, if it has one by that (own) name. */
export function policyRunbook(policy: Policy, name: unknown): Runbook | undefined {
  return typeof name === 'string' && policy.runbooks && Object.hasOwn(policy.runbooks, name)
    ? policy.runbooks[name]
    : undefined;
}

/** What a certificate issued now for runbook `name` carries; undefined if the policy has no such runbook. */
export function runbookScope(policy: Policy, name: string): ScopeRunbook | undefined {
  const runbook = policyRunbook(policy, name);
  return runbook && { name, stepsDigest: runbookStepsDigest(runbook.steps) };
}
