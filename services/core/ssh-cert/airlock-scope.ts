/**
 * The airlock scope extension, `airlock-scope@airlock.dev`: a certificate
 * extension (PROTOCOL.certkeys §extensions, vendor name after `@`) whose value
 * is a JSON object naming what the session may touch. Validated strictly:
 * exactly these members, each of the right shape, nothing else. The optional
 * members (`runbook`, `containerPatterns`) came later; a certificate without
 * them means "no runbook" and "all containers".
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
}

/** A runbook as named by a session certificate. */
export interface ScopeRunbook {
  readonly name: string;
  /** `sha256:` and 64 lowercase hex digits. */
  readonly stepsDigest: string;
}

const SCOPE_KEYS = ['cluster', 'namespace', 'podPatterns', 'profile', 'requestId', 'groups'] as const;
const OPTIONAL_KEYS = ['runbook', 'containerPatterns'] as const;
const RUNBOOK_KEYS = ['name', 'stepsDigest'] as const;

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
  return {
    cluster: token(record.cluster, 'cluster'),
    namespace: token(record.namespace, 'namespace', NAMESPACE),
    podPatterns: tokenList(record.podPatterns, 'podPatterns', POD_PATTERN, 1),
    profile: token(record.profile, 'profile'),
    requestId: token(record.requestId, 'requestId'),
    groups: tokenList(record.groups, 'groups', TOKEN, 0),
    ...(runbook === undefined ? {} : { runbook }),
    ...(containers === undefined ? {} : { containerPatterns: containers }),
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
  return JSON.stringify(Object.fromEntries(entries));
}
