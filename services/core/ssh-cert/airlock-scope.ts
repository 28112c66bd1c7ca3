/**
 * The airlock scope extension, `airlock-scope@airlock.dev`: a certificate
 * extension (PROTOCOL.certkeys §extensions, vendor name after `@`) whose value
 * is a JSON object naming what the session may touch. Validated strictly:
 * exactly these members, each of the right shape, nothing else. The optional
 * members (`runbook`, `containerPatterns`, `moderation`, `moderator`) came
 * later; a certificate without them means "no runbook", "all containers",
 * "not moderated" and "no moderator role".
 */
import { AirlockError } from '../errors.js';

/** Extension name carrying the scope. */
export const AIRLOCK_SCOPE_EXTENSION = 'airlock-scope@airlock.dev';

/** What a session certificate allows, as approved by the broker. */
export interface AirlockScope {
  /** Cluster name as configured in the executor. */
  readonly cluster: string;
  /** Kubernetes namespace (RFC 1123 label). */
  readonly namespace: string;
  /** Pod name patterns; `*` and `?` are wildcards. At least one. */
  readonly podPatterns: readonly string[];
  /** Policy profile name. */
  readonly profile: string;
  /** The access request this certificate was issued for. */
  readonly requestId: string;
  /** Extra Kubernetes groups impersonated for the session (e.g. `jit:debug`). */
  readonly groups: readonly string[];
  /**
   * The runbook this session was issued for: it may exec exactly these steps
   * and nothing else. `stepsDigest` is `runbookStepsDigest` of the steps the
   * broker approved, so a runbook edited since then no longer matches.
   */
  readonly runbook?: ScopeRunbook;
  /** Container name patterns (`*`, `?`); absent means every container. At least one. */
  readonly containerPatterns?: readonly string[];
  /**
   * The session runs only under moderation: the profile's `moderation` at
   * issue time, so a policy edit cannot lift it from a live certificate.
   */
  readonly moderation?: ScopeModeration;
  /**
   * A moderator certificate: its holder may join and moderate sessions of
   * `profile` in `cluster`/`namespace` and do nothing else. Never together
   * with `moderation`.
   */
  readonly moderator?: ScopeModeratorRole;
}

/** A moderation requirement as a session certificate carries it. */
export interface ScopeModeration {
  readonly requiredGroups: readonly string[];
  /** 1 to 5 distinct moderators. */
  readonly min: number;
  readonly mode: 'observe' | 'approve-each-command';
}

/** The moderator role as a moderator certificate carries it. */
export interface ScopeModeratorRole {
  /** The holder's groups among the profile's required (or observer) groups at issue time. At least one. */
  readonly groups: readonly string[];
  /**
   * `observer`: watch only. A member older verifiers do not know, so they
   * refuse such a certificate rather than take it for a moderator's.
   */
  readonly role?: 'observer';
}

/** A runbook as named by a session certificate. */
export interface ScopeRunbook {
  readonly name: string;
  /** `sha256:` and 64 lowercase hex digits. */
  readonly stepsDigest: string;
}

const SCOPE_KEYS = ['cluster', 'namespace', 'podPatterns', 'profile', 'requestId', 'groups'] as const;
const OPTIONAL_KEYS = ['runbook', 'containerPatterns', 'moderation', 'moderator'] as const;
const RUNBOOK_KEYS = ['name', 'stepsDigest'] as const;
const MODERATION_KEYS = ['requiredGroups', 'min', 'mode'] as const;
const MODERATION_MODES = ['observe', 'approve-each-command'] as const;
const MAX_MODERATORS = 5;

/** RFC 1123 label, the Kubernetes namespace name rule. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A pod name (RFC 1123 subdomain characters) with glob wildcards. */
const POD_PATTERN = /^[a-z0-9.*?-]{1,253}$/;
/** Printable, no whitespace, bounded: names, ids and groups. */
const TOKEN = /^[\x21-\x7e]{1,253}$/;
/** A container name (RFC 1123 label characters) with glob wildcards. */
const CONTAINER_PATTERN = /^[a-z0-9*?-]{1,63}$/;
/** SHA-256, as `runbookStepsDigest` writes it. */
const STEPS_DIGEST = /^sha256:[0-9a-f]{64}$/;

function invalid(reason: string): never {
  throw new AirlockError('CERT_SCOPE_INVALID', `airlock scope is invalid: ${reason}`);
}

function token(value: unknown, field: string, pattern: RegExp = TOKEN): string {
  if (typeof value !== 'string' || !pattern.test(value))
    invalid(`${field} must be a string matching ${pattern}`);
  return value;
}

function tokenList(value: unknown, field: string, pattern: RegExp, minimum: number): string[] {
  if (!Array.isArray(value)) invalid(`${field} must be an array`);
  if (value.length < minimum)
    invalid(`${field} needs at least ${minimum} entr${minimum === 1 ? 'y' : 'ies'}`);
  const items = value.map((item, index) => token(item, `${field}[${index}]`, pattern));
  if (new Set(items).size !== items.length) invalid(`${field} has duplicates`);
  return items;
}

/** An object with exactly the `required` members plus any of `optional`. */
function members(
  value: unknown,
  field: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(`${field} must be a JSON object`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!required.includes(key) && !optional.includes(key))
      invalid(`unknown member ${JSON.stringify(key.slice(0, 64))}${field === 'scope' ? '' : ` in ${field}`}`);
  }
  for (const key of required) if (!Object.hasOwn(record, key)) invalid(`missing member ${key} in ${field}`);
  return record;
}

function scopeRunbook(value: unknown): ScopeRunbook {
  const record = members(value, 'runbook', RUNBOOK_KEYS);
  return {
    name: token(record.name, 'runbook.name'),
    stepsDigest: token(record.stepsDigest, 'runbook.stepsDigest', STEPS_DIGEST),
  };
}

function scopeModeration(value: unknown): ScopeModeration {
  const record = members(value, 'moderation', MODERATION_KEYS);
  const { min, mode } = record;
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 1 || min > MAX_MODERATORS)
    invalid(`moderation.min must be an integer from 1 to ${MAX_MODERATORS}`);
  if (!(MODERATION_MODES as readonly unknown[]).includes(mode))
    invalid(`moderation.mode must be one of ${MODERATION_MODES.join(', ')}`);
  return {
    requiredGroups: tokenList(record.requiredGroups, 'moderation.requiredGroups', TOKEN, 1),
    min,
    mode: mode as ScopeModeration['mode'],
  };
}

function scopeModerator(value: unknown): ScopeModeratorRole {
  const record = members(value, 'moderator', ['groups'], ['role']);
  if (record.role !== undefined && record.role !== 'observer') invalid('moderator.role must be "observer"');
  return {
    groups: tokenList(record.groups, 'moderator.groups', TOKEN, 1),
    ...(record.role === undefined ? {} : { role: 'observer' as const }),
  };
}

/** Validates an already parsed JSON value as a scope. Throws `CERT_SCOPE_INVALID`. */
export function validateAirlockScope(value: unknown): AirlockScope {
  const record = members(value, 'scope', SCOPE_KEYS, OPTIONAL_KEYS);
  // A member present with the value `undefined` (only possible for objects
  // built in code, never parsed JSON) counts as absent.
  const runbook = record.runbook === undefined ? undefined : scopeRunbook(record.runbook);
  const containers =
    record.containerPatterns === undefined
      ? undefined
      : tokenList(record.containerPatterns, 'containerPatterns', CONTAINER_PATTERN, 1);
  const moderation = record.moderation === undefined ? undefined : scopeModeration(record.moderation);
  const moderator = record.moderator === undefined ? undefined : scopeModerator(record.moderator);
  // A moderator certificate never acts, so it has nothing to moderate: both at once is a forgery or a bug.
  if (moderation && moderator) invalid('moderation and moderator exclude each other');
  return {
    cluster: token(record.cluster, 'cluster'),
    namespace: token(record.namespace, 'namespace', NAMESPACE),
    podPatterns: tokenList(record.podPatterns, 'podPatterns', POD_PATTERN, 1),
    profile: token(record.profile, 'profile'),
    requestId: token(record.requestId, 'requestId'),
    groups: tokenList(record.groups, 'groups', TOKEN, 0),
    ...(runbook === undefined ? {} : { runbook }),
    ...(containers === undefined ? {} : { containerPatterns: containers }),
    ...(moderation === undefined ? {} : { moderation }),
    ...(moderator === undefined ? {} : { moderator }),
  };
}

/** Parses and validates the extension value. Throws `CERT_SCOPE_INVALID`. */
export function parseAirlockScope(json: string): AirlockScope {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    invalid('not valid JSON');
  }
  return validateAirlockScope(value);
}

/**
 * Serialises a scope canonically (members in schema order, optional members
 * only when present) for the extension value.
 */
export function formatAirlockScope(scope: AirlockScope): string {
  const valid = validateAirlockScope(scope);
  const entries: [string, unknown][] = SCOPE_KEYS.map((key) => [key, valid[key]]);
  if (valid.runbook)
    entries.push(['runbook', { name: valid.runbook.name, stepsDigest: valid.runbook.stepsDigest }]);
  if (valid.containerPatterns) entries.push(['containerPatterns', valid.containerPatterns]);
  if (valid.moderation) {
    const { requiredGroups, min, mode } = valid.moderation;
    entries.push(['moderation', { requiredGroups, min, mode }]);
  }
  if (valid.moderator) {
    const { groups, role } = valid.moderator;
    entries.push(['moderator', role === undefined ? { groups } : { groups, role }]);
  }
  return JSON.stringify(Object.fromEntries(entries));
}
