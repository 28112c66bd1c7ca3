/**
 * The shape of an airlock policy file (`"version": 1`) and of the values the
 * evaluation functions take and return.
 *
 * The policy types mirror `policy.schema.json` one to one; the schema is the
 * source of truth for what a file may contain and `loadPolicy` guarantees that
 * a `Policy` value satisfies both the schema and the semantic checks in
 * `validate.ts`.
 */
import type { ErrorCode, PolicyDenialCode } from '../errors.js';

/** Actions a profile can allow. `shell` (interactive) is separate from `exec`. */
export const ACTIONS = ['list', 'get', 'logs', 'exec', 'shell', 'port-forward', 'debug'] as const;
export type Action = (typeof ACTIONS)[number];

/** Resources that `list` / `get` can name. */
export const RESOURCES = ['pods', 'events', 'deployments', 'replicasets', 'nodes', 'namespaces'] as const;
export type Resource = (typeof RESOURCES)[number];

/** Cluster-scoped resources: listing them does not involve the scope's namespace. */
export const CLUSTER_SCOPED_RESOURCES: ReadonlySet<Resource> = new Set<Resource>(['nodes', 'namespaces']);

/** Marker that, as the last element of an argv pattern, matches any further arguments (zero or more). */
export const ANY_FURTHER_ARGS = '...';

/** One argv pattern: a literal or a glob (`*`, `?`) per argument, optionally ending in `"..."`. */
export interface CommandRule {
  /** Optional stable name, shown in explanations and audit records next to the rule path. */
  readonly id?: string;
  readonly argv: readonly string[];
  readonly description?: string;
}

export interface CommandRules {
  /**
   * When true, an absolute argv[0] such as `/usr/bin/ps` also matches an allow
   * rule whose argv[0] is the bare name `ps`. Off unless the profile says so,
   * because `/tmp/ps` would match too. Deny rules always compare basenames.
   */
  readonly matchBasename: boolean;
  /** One argument per element, exactly as typed (argv.ts `matchPattern`). */
  readonly allow: readonly CommandRule[];
  /**
   * Checked first; each element matches any argument in any position, read
   * as typed, as an option value and as a normalised path (argv.ts
   * `matchDeny`, deny-readings.ts).
   */
  readonly deny: readonly CommandRule[];
}

export interface ProfileActions {
  readonly list?: { readonly resources: readonly Resource[] };
  readonly get?: { readonly resources: readonly Resource[] };
  readonly logs?: Readonly<Record<string, never>>;
  readonly exec?: Readonly<Record<string, never>>;
  /** Interactive shell; `argv` lists the exact shell commands that may be started. */
  readonly shell?: { readonly argv: readonly (readonly string[])[] };
  /** Numbers (1-65535) or container port names (IANA_SVC_NAME). */
  readonly 'port-forward'?: { readonly ports: readonly (number | string)[] };
  /** Exact image references (pin by digest where you can). */
  readonly debug?: { readonly images: readonly string[] };
}

export interface ScopeLimits {
  /** Cluster names or globs; a requested cluster must match one. */
  readonly clusters: readonly string[];
  /** Namespace names or globs. */
  readonly namespaces: readonly string[];
  /** Pod name globs; requested pod patterns must fall inside one of them. */
  readonly pods: readonly string[];
  /** Container name globs a session may name with `-c`; absent means every container. */
  readonly containers?: readonly string[];
}

export interface BusinessHours {
  /** IANA time zone, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  readonly days: readonly Weekday[];
  /** `HH:MM`, inclusive. */
  readonly start: string;
  /** `HH:MM`, exclusive. */
  readonly end: string;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Auto-approve when ALL stated conditions hold. At least one condition must be stated. */
export interface AutoApproveRule {
  readonly id?: string;
  readonly requesterGroups?: readonly string[];
  readonly requesterKinds?: readonly RequesterKind[];
  readonly maxTtlSeconds?: number;
  /** ECMAScript regular expression (compiled with the `u` flag) the reason must match. */
  readonly reasonPattern?: string;
  /** The request must name a runbook and ask for nothing else. */
  readonly runbookOnly?: boolean;
  readonly businessHours?: BusinessHours;
}

export interface ManualApproval {
  readonly approverGroups: readonly string[];
  readonly count: number;
  readonly pendingExpirySeconds: number;
}

export interface ApprovalRules {
  readonly autoApprove?: readonly AutoApproveRule[];
  /** Without it, requests that are not auto-approved are denied. */
  readonly manual?: ManualApproval;
}

export interface Profile {
  readonly description?: string;
  /**
   * Kubernetes groups the session acts as. Templates may use `{namespace}`,
   * `{cluster}` and `{profile}`; every group must start with `jit:`.
   */
  readonly groups: readonly string[];
  /** Who may ask for this profile at all (any of the groups). */
  readonly requesterGroups: readonly string[];
  readonly maxTtlSeconds?: number;
  readonly scope: ScopeLimits;
  readonly actions: ProfileActions;
  readonly commands?: CommandRules;
  /** Names of `runbooks` that may be requested with this profile. */
  readonly runbooks?: readonly string[];
  /**
   * Show literal `env[].value` and `envFrom` of pods and pod templates in
   * `get` / `list` / `describe` output. Off unless the profile says so: they
   * often hold credentials.
   */
  readonly revealEnv?: boolean;
  readonly approval: ApprovalRules;
  /**
   * Four-eyes sessions: a session of this profile runs only while `min`
   * moderators from `requiredGroups` watch it (docs/policy.md, Moderation).
   */
  readonly moderation?: ModerationRule;
}

/** How a moderated session is moderated. */
export const MODERATION_MODES = ['observe', 'approve-each-command'] as const;
export type ModerationMode = (typeof MODERATION_MODES)[number];

/** A profile's moderation requirement; carried unchanged in the session certificate's scope. */
export interface ModerationRule {
  /** A moderator must be in one of these groups (and can never be the session's owner). */
  readonly requiredGroups: readonly string[];
  /** How many distinct moderators must have joined before a command runs (1-5). */
  readonly min: number;
  /** `observe`: moderators watch and may terminate; `approve-each-command`: each intent waits for a y/n. */
  readonly mode: ModerationMode;
  /**
   * Who may ask for the observer role (besides `requiredGroups`): observers
   * join read-only, never approve, reject or terminate and never count
   * toward `min`. Not carried in the owner's certificate.
   */
  readonly observerGroups?: readonly string[];
}

/**
 * The moderator role a certificate carries: its holder may join, watch and
 * moderate sessions of the scope's profile, cluster and namespace, and do
 * nothing else (every intent is refused with MODERATOR_ONLY).
 */
export interface ScopeModerator {
  /**
   * The holder's groups among the profile's `moderation.requiredGroups` (an
   * observer: `observerGroups` and `requiredGroups`) at issue time.
   */
  readonly groups: readonly string[];
  /** `observer`: may only watch (never approve, reject or terminate; does not count toward `min`). */
  readonly role?: 'observer';
}

export interface Runbook {
  readonly description?: string;
  /** Pre-approved argv sequence; every step must also be allowed by the profile's commands. */
  readonly steps: readonly (readonly string[])[];
  /** Machine identities (user names, e.g. `system:serviceaccount:ops:runner`) that may request it. */
  readonly machineUsers?: readonly string[];
}

export interface Policy {
  readonly $schema?: string;
  readonly version: 1;
  readonly limits: {
    /** Policy-wide TTL ceiling; applies to profiles without their own `maxTtlSeconds`. */
    readonly maxTtlSeconds: number;
  };
  readonly profiles: Readonly<Record<string, Profile>>;
  readonly runbooks?: Readonly<Record<string, Runbook>>;
}

export type RequesterKind = 'human' | 'machine';

export interface Requester {
  readonly user: string;
  readonly groups: readonly string[];
  readonly kind: RequesterKind;
}

/** What a requester asks for. */
export interface RequestedScope {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly podPatterns: readonly string[];
  readonly ttlSeconds: number;
  readonly reason: string;
  readonly runbook?: string;
  /** Container name globs; absent means every container the profile allows. */
  readonly containerPatterns?: readonly string[];
  /**
   * `moderator` / `observer`: ask for the moderator or the observer role of
   * the profile instead of access (docs/policy.md, Moderation).
   */
  readonly role?: 'moderator' | 'observer';
}

/** The runbook a session was issued for, as its certificate names it. */
export interface ScopeRunbook {
  readonly name: string;
  /** `runbookStepsDigest` of the steps approved at issue time. */
  readonly stepsDigest: string;
}

/**
 * The scope of an issued session (from the certificate's scope extension;
 * build it with `scopeOf`, never by hand).
 */
export interface Scope {
  readonly profile: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly podPatterns: readonly string[];
  /** Groups the session acts as; informational here, executors take them from `renderGroups`. */
  readonly groups?: readonly string[];
  /** Present: the session may exec exactly this runbook's steps and nothing else. */
  readonly runbook?: ScopeRunbook;
  /** Container name globs; absent means every container the profile allows. */
  readonly containerPatterns?: readonly string[];
  /** Present: the session runs only under moderation (the profile's rule at issue time). */
  readonly moderation?: ModerationRule;
  /** Present: a moderator certificate; it may join sessions and never act itself. */
  readonly moderator?: ScopeModerator;
}

/** One thing a session wants to do. Commands are argv arrays, never strings. */
export interface Intent {
  readonly action: Action;
  /** Cluster the intent targets; when given it must equal the scope's cluster. */
  readonly cluster?: string;
  /** Required for everything except list/get of cluster-scoped resources. */
  readonly namespace?: string;
  /** For `list` / `get`; defaults to nothing (denied) when missing. */
  readonly resource?: Resource;
  readonly pod?: string;
  /** The container named with `-c`; absent or empty means the pod's default container. */
  readonly container?: string;
  readonly argv?: readonly string[];
  readonly port?: number | string;
  readonly image?: string;
  readonly tty?: boolean;
}

/** The codes an intent is denied with: the catalogue's POLICY_DENIAL_CODES (services/core/errors.ts). */
export type AuthorizeDenyCode = PolicyDenialCode;

export type AuthorizeResult =
  | { readonly allow: true; readonly rule: string }
  | {
      readonly allow: false;
      readonly code: AuthorizeDenyCode;
      readonly rule?: string;
      readonly reason: string;
    };

export type RequestDenyCode = Extract<
  ErrorCode,
  | 'PROFILE_UNKNOWN'
  | 'SCOPE_CLUSTER'
  | 'SCOPE_NAMESPACE'
  | 'SCOPE_POD'
  | 'SCOPE_CONTAINER'
  | 'TTL_TOO_LONG'
  | 'REQUEST_DENIED'
>;

export interface RequestDecision {
  readonly decision: 'auto-approved' | 'needs-approval' | 'denied';
  /** Present when `decision` is `needs-approval`. */
  readonly approvers?: {
    readonly groups: readonly string[];
    readonly count: number;
    readonly pendingExpirySeconds: number;
  };
  /** Human-readable reasons: why denied, or which auto-approve conditions failed. */
  readonly reasons: readonly string[];
  /** Present when `decision` is `denied`. */
  readonly code?: RequestDenyCode;
  /** The rule that decided: an auto-approve rule, the manual rule, or the failing check. */
  readonly rule?: string;
}

/** A pending access request as `canApprove` sees it. */
export interface PendingRequest {
  readonly requester: Requester;
  readonly scope: RequestedScope;
  readonly createdAt: Date;
  /** User names that have already approved. */
  readonly approvedBy: readonly string[];
}

export type ApproveResult =
  | { readonly allowed: true; readonly complete: boolean; readonly rule: string }
  | {
      readonly allowed: false;
      readonly code: Extract<ErrorCode, 'PROFILE_UNKNOWN' | 'REQUEST_DENIED'>;
      readonly reason: string;
    };

/** One schema or semantic problem, named by path (`profiles.oncall-debug.maxTtlSeconds`). */
export interface PolicyError {
  readonly path: string;
  readonly message: string;
}

/** A lint finding from `lintPolicy`; the policy is valid but may not mean what its author thinks. */
export type PolicyWarning = PolicyError;
