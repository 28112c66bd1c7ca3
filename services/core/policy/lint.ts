/**
 * Lint for valid policies (`airlock policy check`): findings that do not make
 * a policy invalid but usually mean it grants more, or less, than intended.
 */
import { compilePattern, escapeCategories, isCommandRunner, isInterpreter, matchPattern } from './argv.js';
import { authorizeArgv } from './authorize.js';
import { effectiveMaxTtl } from './decide.js';
import { globSubsumes } from './glob.js';
import {
  ANY_FURTHER_ARGS,
  type CommandRule,
  type Policy,
  type PolicyWarning,
  type Profile,
} from './types.js';

/** True when every argv matched by `specific` is also matched by `general` (sound, not complete). */
export function argvPatternSubsumes(general: readonly string[], specific: readonly string[]): boolean {
  const g = compilePattern(general);
  const s = compilePattern(specific);
  const gFixed = g.rest ? general.slice(0, -1) : general;
  const sFixed = s.rest ? specific.slice(0, -1) : specific;
  if (g.rest ? sFixed.length < gFixed.length : s.rest || sFixed.length !== gFixed.length) return false;
  return gFixed.every((ga, i) => globSubsumes(ga, sFixed[i]!));
}

const RISKY = ['shell', 'command', 'file-write'];

/** Files in every pod that a file reader with a wildcard path should never reach. */
const POD_SECRETS = [
  { path: '/var/run/secrets/kubernetes.io/serviceaccount/token', name: 'the ServiceAccount token' },
  { path: '/proc/1/environ', name: 'process environments (/proc/*/environ)' },
] as const;

/**
 * The pod secrets a file-reading binary's allow rule reaches through its
 * wildcard arguments or `"..."`: the rule allows `argv` naming the secret
 * when one wildcard position is the secret's path.
 */
function reachableSecrets(argv: readonly string[]): string[] {
  const pattern = compilePattern(argv);
  const fixed = pattern.rest ? argv.slice(0, -1) : argv;
  const found: string[] = [];
  for (const secret of POD_SECRETS) {
    const candidates: string[][] = [];
    if (pattern.rest) candidates.push([...fixed, secret.path]);
    fixed.forEach((a, i) => {
      if (i > 0 && (a.includes('*') || a.includes('?')))
        candidates.push(fixed.map((b, j) => (j === i ? secret.path : b)));
    });
    if (candidates.some((c) => matchPattern(pattern, c, false))) found.push(secret.name);
  }
  return found;
}

type Warn = (path: string, message: string) => void;

/** Profile-wide findings: no own TTL bound, shells allowed, exec and command rules that do not fit together. */
function lintProfileActions(policy: Policy, p: string, profile: Profile, warn: Warn): void {
  if (profile.maxTtlSeconds === undefined) {
    warn(
      p,
      `no maxTtlSeconds; the policy-wide ceiling limits.maxTtlSeconds (${policy.limits.maxTtlSeconds}s) applies`,
    );
  }
  if (profile.actions.shell) {
    warn(
      `${p}.actions.shell`,
      'interactive shells are allowed; commands typed in them are not checked by the command rules',
    );
  }
  const allow = profile.commands?.allow ?? [];
  const denyRules = profile.commands?.deny ?? [];
  if (profile.commands && !profile.actions.exec && (allow.length > 0 || denyRules.length > 0)) {
    warn(`${p}.commands`, 'command rules are unreachable: actions.exec is not allowed');
  }
  if (profile.actions.exec && allow.length === 0)
    warn(`${p}.actions.exec`, 'exec is allowed but no command is');
}

/**
 * Findings for `commands.allow[i]`: a binary that can escape or reach pod
 * secrets, a runner the built-in guard always refuses, and a rule shadowed by
 * an earlier allow or by a deny.
 */
function lintAllowRule(
  p: string,
  allow: readonly CommandRule[],
  denyRules: readonly CommandRule[],
  i: number,
  warn: Warn,
): void {
  const rule = allow[i]!;
  const path = `${p}.commands.allow[${i}]`;
  const a0 = rule.argv[0] ?? '';
  const wildcard = rule.argv
    .slice(1)
    .some((a) => a === ANY_FURTHER_ARGS || a.includes('*') || a.includes('?'));
  // A fully literal rule for a binary that can only write files (curl, tee with fixed arguments)
  // runs exactly what the policy says; binaries that can spawn a shell (less, vi, top) can do so
  // interactively whatever their arguments, so they are always reported.
  const categories = escapeCategories(a0).filter((c) => RISKY.includes(c));
  const interactiveRisk = categories.includes('shell') || categories.includes('command');
  // A command runner with literal arguments (`env`, `timeout 5 ps`) runs exactly what the rule says;
  // interpreters still read programs from stdin, so they are always reported.
  const literalRunner = !wildcard && isCommandRunner(a0) && !isInterpreter(a0);
  if (categories.length > 0 && (wildcard || interactiveRisk) && !literalRunner) {
    warn(path, `${a0} can ${categories.map(describeCategory).join(', ')} (see shell-escapes.json)`);
  }
  const secrets = escapeCategories(a0).includes('file-read') ? reachableSecrets(rule.argv) : [];
  if (secrets.length > 0) {
    warn(
      path,
      `${a0} reads files and this rule leaves a path to a wildcard: it reaches ${secrets.join(' and ')}; ` +
        'allow literal paths (deny rules are a backstop, see docs/policy.md)',
    );
  }
  if (wildcard && (isCommandRunner(a0) || isInterpreter(a0))) {
    warn(
      path,
      `${a0} runs its arguments; with wildcard arguments this rule is always refused by the built-in guard`,
    );
  }
  for (let j = 0; j < i; j++) {
    if (argvPatternSubsumes(allow[j]!.argv, rule.argv)) {
      warn(path, `unreachable: every argv it matches is already allowed by commands.allow[${j}]`);
      break;
    }
  }
  denyRules.forEach((d, k) => {
    if (argvPatternSubsumes(d.argv, rule.argv)) {
      warn(path, `never allows anything: every argv it matches is denied by commands.deny[${k}]`);
    }
  });
}

/** Approval findings: auto-approve rules anyone can satisfy or that never fire, and self-approving pairs. */
function lintApproval(policy: Policy, p: string, profile: Profile, warn: Warn): void {
  const maxTtl = effectiveMaxTtl(policy, profile);
  const groupsOfRequesters = new Set(profile.requesterGroups);
  profile.approval.autoApprove?.forEach((rule, i) => {
    const path = `${p}.approval.autoApprove[${i}]`;
    if (!rule.runbookOnly && !rule.requesterGroups) {
      warn(
        path,
        'any requester of the profile can satisfy this rule alone: reason, TTL and timing are chosen by the requester; ' +
          'add requesterGroups or runbookOnly',
      );
    }
    for (const g of rule.requesterGroups ?? []) {
      if (!groupsOfRequesters.has(g)) {
        warn(
          `${path}.requesterGroups`,
          `${g} is not in the profile's requesterGroups, so it can never request`,
        );
      }
    }
    if (rule.maxTtlSeconds !== undefined && rule.maxTtlSeconds >= maxTtl) {
      warn(`${path}.maxTtlSeconds`, `always holds: the profile's TTL bound is ${maxTtl}s`);
    }
  });
  const manual = profile.approval.manual;
  if (manual && manual.count === 1 && manual.approverGroups.every((g) => groupsOfRequesters.has(g))) {
    warn(
      `${p}.approval.manual`,
      'approvers are drawn only from the requester groups with count 1: requesters cannot approve their own request, ' +
        'but any two members can grant each other access; consider a separate approver group or count 2',
    );
  }
}

/** Runbook steps the profile itself refuses; records which runbooks some profile lists. */
function lintProfileRunbooks(
  policy: Policy,
  name: string,
  profile: Profile,
  referencedRunbooks: Set<string>,
  warn: Warn,
): void {
  const p = `profiles.${name}`;
  for (const [i, rb] of (profile.runbooks ?? []).entries()) {
    referencedRunbooks.add(rb);
    const runbook = policy.runbooks?.[rb];
    runbook?.steps.forEach((step, s) => {
      const r = authorizeArgv(policy, name, step);
      if (!r.allow)
        warn(
          `${p}.runbooks[${i}]`,
          `runbook ${rb} step ${s} is refused by this profile (${r.code}: ${r.reason})`,
        );
    });
  }
}

export function lintPolicy(policy: Policy): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  const warn = (path: string, message: string) => warnings.push({ path, message });
  const referencedRunbooks = new Set<string>();

  for (const [name, profile] of Object.entries(policy.profiles)) {
    const p = `profiles.${name}`;
    lintProfileActions(policy, p, profile, warn);
    const allow = profile.commands?.allow ?? [];
    const denyRules = profile.commands?.deny ?? [];
    for (const i of allow.keys()) lintAllowRule(p, allow, denyRules, i, warn);
    lintApproval(policy, p, profile, warn);
    lintProfileRunbooks(policy, name, profile, referencedRunbooks, warn);
  }
  for (const name of Object.keys(policy.runbooks ?? {})) {
    if (!referencedRunbooks.has(name)) warn(`runbooks.${name}`, 'no profile lists this runbook');
  }
  return warnings;
}

function describeCategory(category: string): string {
  switch (category) {
    case 'shell':
      return 'spawn a shell';
    case 'command':
      return 'run other commands';
    case 'file-write':
      return 'write files';
    default:
      return category;
  }
}
