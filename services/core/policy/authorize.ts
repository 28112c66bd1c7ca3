/**
 * `authorizeIntent`: may this session do this one thing? Pure, no I/O; both
 * the mediator (early, clear answer) and the executor (the decision that
 * counts) call it with the certificate's scope.
 *
 * Order of checks, first failure wins:
 * profile → cluster → namespace → runbook → action → pod → container →
 * port / image / argv.
 * For argv: built-in shape guard → deny rules → allow rules → wildcard guard.
 * Deny rules are consulted before allow rules, so a deny always wins.
 */
import {
  basename,
  type CompiledPattern,
  checkArgvShape,
  checkWildcardArgs,
  compilePattern,
  denyView,
  isInterpreter,
  matchDeny,
  matchPattern,
} from './argv.js';
import { globMatchAny } from './glob.js';
import { placeOutsideProfile, show } from './profile-scope.js';
import { policyRunbook, runbookStepsDigest } from './runbook.js';
import {
  type Action,
  type AuthorizeDenyCode,
  type AuthorizeResult,
  CLUSTER_SCOPED_RESOURCES,
  type Intent,
  type Policy,
  type Profile,
  type Scope,
} from './types.js';

interface CompiledRule {
  readonly pattern: CompiledPattern;
  readonly rule: string;
}

interface CompiledProfile {
  readonly allow: readonly CompiledRule[];
  readonly deny: readonly CompiledRule[];
  readonly matchBasename: boolean;
}

const compiled = new WeakMap<Profile, CompiledProfile>();

function ruleName(base: string, index: number, id: string | undefined): string {
  return id === undefined ? `${base}[${index}]` : `${base}[${index}](${id})`;
}

function compileProfile(name: string, profile: Profile): CompiledProfile {
  let c = compiled.get(profile);
  if (c === undefined) {
    const base = `profiles.${name}.commands`;
    c = {
      allow: (profile.commands?.allow ?? []).map((r, i) => ({
        pattern: compilePattern(r.argv),
        rule: ruleName(`${base}.allow`, i, r.id),
      })),
      deny: (profile.commands?.deny ?? []).map((r, i) => ({
        pattern: compilePattern(r.argv),
        rule: ruleName(`${base}.deny`, i, r.id),
      })),
      matchBasename: profile.commands?.matchBasename ?? false,
    };
    compiled.set(profile, c);
  }
  return c;
}

/** Pod names: RFC 1123 subdomain. */
const POD_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const POD_ACTIONS: ReadonlySet<Action> = new Set<Action>(['logs', 'exec', 'shell', 'port-forward', 'debug']);

/** Actions that run in (or read from) one container of the pod, named with `-c`. */
const CONTAINER_ACTIONS: ReadonlySet<Action> = new Set<Action>(['logs', 'exec', 'shell']);

/** Container names: RFC 1123 label. */
const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function deny(code: AuthorizeDenyCode, reason: string, rule?: string): AuthorizeResult {
  return rule === undefined ? { allow: false, code, reason } : { allow: false, code, rule, reason };
}

function getProfile(policy: Policy, name: unknown): Profile | undefined {
  return typeof name === 'string' && Object.hasOwn(policy.profiles, name) ? policy.profiles[name] : undefined;
}

/**
 * Decides an argv against a profile's command rules alone (no scope checks).
 * Exported for runbook checks and `policy explain`.
 */
export function authorizeArgv(
  policy: Policy,
  profileName: string,
  argv: readonly string[] | undefined,
): AuthorizeResult {
  const profile = getProfile(policy, profileName);
  if (!profile) return deny('PROFILE_UNKNOWN', `no profile named ${show(profileName)}`);
  if (!Array.isArray(argv))
    return deny('COMMAND_NOT_ALLOWED', 'exec needs an argv array', 'builtin:empty-argv');
  const shape = checkArgvShape(argv);
  if (shape) return deny('COMMAND_DENIED', shape.reason, shape.rule);
  const c = compileProfile(profileName, profile);
  // Deny rules read arguments broadly (normalised paths, any position); argv itself is never rewritten.
  const view = denyView(argv);
  for (const r of c.deny) {
    if (matchDeny(r.pattern, view)) return deny('COMMAND_DENIED', 'command matches a deny rule', r.rule);
  }
  for (const r of c.allow) {
    const m = matchPattern(r.pattern, argv, c.matchBasename);
    if (m) {
      const v = checkWildcardArgs(argv, m);
      if (v) return deny('COMMAND_DENIED', v.reason, v.rule);
      return { allow: true, rule: r.rule };
    }
  }
  const a0 = argv[0]!;
  if (isInterpreter(a0)) {
    return deny(
      'SHELL_NOT_ALLOWED',
      `${basename(a0)} is a shell or interpreter and no rule allows this argv; interactive shells need the shell action`,
    );
  }
  return deny('COMMAND_NOT_ALLOWED', 'no allow rule matches this argv');
}

/** Patterns that leave every container allowed: absent, or a bare `*` among them. */
function allContainers(patterns: readonly string[] | undefined): boolean {
  return patterns === undefined || patterns.includes('*');
}

/**
 * The container named with `-c` against the profile's `scope.containers` and
 * the session's `containerPatterns` (both: absent means every container).
 * Without `-c` the executor would pick the pod's default container, which
 * neither tier sees before the call; so where containers are restricted the
 * session must name one (fail closed).
 */
function checkContainer(
  profile: Profile,
  p: string,
  scope: Scope,
  container: unknown,
): AuthorizeResult | undefined {
  const limits = profile.scope.containers;
  const session = scope.containerPatterns;
  if (container === undefined || container === '') {
    if (allContainers(limits) && allContainers(session)) return undefined;
    return deny('SCOPE_CONTAINER', 'this session may use only some containers: name one with -c');
  }
  if (typeof container !== 'string' || !CONTAINER_NAME.test(container))
    return deny('SCOPE_CONTAINER', `${show(container)} is not a valid container name`);
  return outsideProfileOrSession(
    'container',
    container,
    limits ?? 'any',
    session ?? 'any',
    `${p}.scope.containers`,
  );
}

/**
 * A pod or container name against the profile's globs (denied with `rule`),
 * then the session's; `any`: that side sets no limit.
 */
function outsideProfileOrSession(
  kind: 'pod' | 'container',
  name: string,
  profileGlobs: readonly string[] | 'any',
  sessionGlobs: readonly string[] | 'any',
  rule: string,
): AuthorizeResult | undefined {
  const code = kind === 'pod' ? 'SCOPE_POD' : 'SCOPE_CONTAINER';
  if (profileGlobs !== 'any' && !globMatchAny(profileGlobs, name)) {
    return deny(code, `${kind} ${show(name)} is outside the profile`, rule);
  }
  if (sessionGlobs !== 'any' && !globMatchAny(sessionGlobs, name)) {
    return deny(code, `${kind} ${show(name)} is outside the session's ${kind}s`);
  }
  return undefined;
}

/**
 * A runbook session may run its runbook's steps and nothing else; and only
 * while the policy still has that runbook for this profile, with the steps
 * the certificate's digest names (an edited runbook needs a new approval).
 */
function checkRunbook(
  policy: Policy,
  scope: Scope,
  profile: Profile,
  intent: Intent,
): AuthorizeResult | undefined {
  const named = scope.runbook as { name?: unknown; stepsDigest?: unknown } | null;
  const name = typeof named === 'object' && named !== null ? named.name : undefined;
  if (typeof name !== 'string') return deny('SCOPE_RUNBOOK_STALE', 'malformed runbook in scope');
  const rule = `runbooks.${name}`;
  const runbook = policyRunbook(policy, name);
  if (!runbook || !profile.runbooks?.includes(name)) {
    return deny(
      'SCOPE_RUNBOOK_STALE',
      `runbook ${show(name)} is no longer available with this profile`,
      `profiles.${scope.profile}.runbooks`,
    );
  }
  if (named!.stepsDigest !== runbookStepsDigest(runbook.steps)) {
    return deny(
      'SCOPE_RUNBOOK_STALE',
      `the steps of runbook ${show(name)} changed since this certificate was issued`,
      `${rule}.steps`,
    );
  }
  if (intent.action !== 'exec')
    return deny('SCOPE_RUNBOOK', `a runbook session may only exec the steps of ${show(name)}`, rule);
  const argv = intent.argv;
  const isStep =
    Array.isArray(argv) &&
    runbook.steps.some((s) => s.length === argv.length && s.every((a, j) => a === argv[j]));
  if (!isStep) return deny('SCOPE_RUNBOOK', `argv is not a step of runbook ${show(name)}`, `${rule}.steps`);
  return undefined;
}

/** The session's cluster must be inside the profile, and an intent may name no other. */
function checkCluster(
  profile: Profile,
  p: string,
  scope: Scope,
  intent: Intent,
): AuthorizeResult | undefined {
  // The session's cluster name is not checked for shape here: the profile's globs alone decide.
  const outside = placeOutsideProfile(profile, p, 'cluster', scope.cluster, false);
  if (outside) return deny(outside.code, outside.reason, outside.rule);
  if (intent.cluster !== undefined && intent.cluster !== scope.cluster) {
    return deny('SCOPE_CLUSTER', `cluster ${show(intent.cluster)} is not the session's cluster`);
  }
  return undefined;
}

/**
 * Except for list/get of a cluster-scoped resource, the session's namespace
 * must be inside the profile and the intent's namespace must be it.
 */
function checkNamespace(
  profile: Profile,
  p: string,
  scope: Scope,
  intent: Intent,
): AuthorizeResult | undefined {
  const clusterScoped =
    (intent.action === 'list' || intent.action === 'get') &&
    intent.resource !== undefined &&
    CLUSTER_SCOPED_RESOURCES.has(intent.resource);
  if (clusterScoped) return undefined;
  const outside = placeOutsideProfile(profile, p, 'namespace', scope.namespace);
  if (outside) return deny(outside.code, outside.reason, outside.rule);
  if (intent.namespace !== scope.namespace) {
    return deny('SCOPE_NAMESPACE', `namespace ${show(intent.namespace)} is not the session's namespace`);
  }
  return undefined;
}

/** The profile must list the action (a shell has its own denial code). */
function checkActionListed(profile: Profile, p: string, action: Action): AuthorizeResult | undefined {
  const actions = profile.actions;
  if (action === 'shell') {
    if (!actions.shell)
      return deny('SHELL_NOT_ALLOWED', 'the profile does not allow interactive shells', `${p}.actions`);
  } else if (typeof action !== 'string' || !Object.hasOwn(actions, action) || actions[action] === undefined) {
    return deny('ACTION_NOT_ALLOWED', `the profile does not allow ${show(action)}`, `${p}.actions`);
  }
  return undefined;
}

/** An action on a pod (or any intent naming one) needs a valid pod name inside the profile and the session. */
function checkPod(profile: Profile, p: string, scope: Scope, intent: Intent): AuthorizeResult | undefined {
  if (!POD_ACTIONS.has(intent.action) && intent.pod === undefined) return undefined;
  const pod = intent.pod;
  if (typeof pod !== 'string' || !POD_NAME.test(pod))
    return deny('SCOPE_POD', 'a valid pod name is required');
  return outsideProfileOrSession('pod', pod, profile.scope.pods, scope.podPatterns, `${p}.scope.pods`);
}

/**
 * The last check, per action: the resource, port, image or shell argv must be
 * one the profile lists (exec goes to `authorizeArgv`); the allow names the
 * rule that matched.
 */
function authorizeActionDetail(
  policy: Policy,
  scope: Scope,
  profile: Profile,
  p: string,
  intent: Intent,
): AuthorizeResult {
  const actions = profile.actions;
  const action = intent.action;
  switch (action) {
    case 'list':
    case 'get': {
      const allowed = actions[action]!.resources;
      if (intent.resource === undefined || !allowed.includes(intent.resource)) {
        return deny(
          'ACTION_NOT_ALLOWED',
          `the profile does not allow ${action} ${show(intent.resource)}`,
          `${p}.actions.${action}.resources`,
        );
      }
      return { allow: true, rule: `${p}.actions.${action}.resources[${allowed.indexOf(intent.resource)}]` };
    }
    case 'logs':
      return { allow: true, rule: `${p}.actions.logs` };
    case 'port-forward': {
      const ports = actions['port-forward']!.ports;
      const i = ports.indexOf(intent.port as number | string);
      if (intent.port === undefined || i < 0) {
        return deny(
          'PORT_NOT_ALLOWED',
          `port ${show(intent.port)} is not allowed`,
          `${p}.actions.port-forward.ports`,
        );
      }
      return { allow: true, rule: `${p}.actions.port-forward.ports[${i}]` };
    }
    case 'debug': {
      const images = actions.debug!.images;
      const i = intent.image === undefined ? -1 : images.indexOf(intent.image);
      if (i < 0)
        return deny(
          'IMAGE_NOT_ALLOWED',
          `image ${show(intent.image)} is not allowed`,
          `${p}.actions.debug.images`,
        );
      return { allow: true, rule: `${p}.actions.debug.images[${i}]` };
    }
    case 'shell': {
      const shells = actions.shell!.argv;
      if (intent.argv === undefined) return { allow: true, rule: `${p}.actions.shell.argv[0]` };
      const i = shells.findIndex(
        (s) => s.length === intent.argv!.length && s.every((a, j) => a === intent.argv![j]),
      );
      if (i < 0)
        return deny('SHELL_NOT_ALLOWED', 'this shell command is not allowed', `${p}.actions.shell.argv`);
      return { allow: true, rule: `${p}.actions.shell.argv[${i}]` };
    }
    case 'exec':
      return authorizeArgv(policy, scope.profile, intent.argv);
    default:
      return deny('ACTION_NOT_ALLOWED', `unknown action ${show(action)}`);
  }
}

/**
 * Decides one intent of a session. `scope` comes from the verified
 * certificate; the profile is looked up in the current policy, so removing a
 * profile or rule takes effect for live sessions.
 */
export function authorizeIntent(policy: Policy, scope: Scope, intent: Intent): AuthorizeResult {
  // A moderator certificate names the profile it moderates, not one it may use.
  if (scope.moderator !== undefined)
    return deny(
      'MODERATOR_ONLY',
      scope.moderator.role === 'observer'
        ? 'an observer certificate may only join and watch sessions'
        : 'a moderator certificate may only join and moderate sessions',
    );
  const profile = getProfile(policy, scope.profile);
  if (!profile) return deny('PROFILE_UNKNOWN', `no profile named ${show(scope.profile)}`);
  const p = `profiles.${scope.profile}`;

  const namesContainer =
    CONTAINER_ACTIONS.has(intent.action) || (intent.container !== undefined && intent.container !== '');
  const refused =
    checkCluster(profile, p, scope, intent) ??
    checkNamespace(profile, p, scope, intent) ??
    (scope.runbook !== undefined ? checkRunbook(policy, scope, profile, intent) : undefined) ??
    checkActionListed(profile, p, intent.action) ??
    checkPod(profile, p, scope, intent) ??
    (namesContainer ? checkContainer(profile, p, scope, intent.container) : undefined);
  if (refused) return refused;
  return authorizeActionDetail(policy, scope, profile, p, intent);
}
