/**
 * Start-up validation of a policy file: the JSON Schema (policy.schema.json)
 * first, then the semantic checks a schema cannot express (regular
 * expressions compile, time zones exist, group templates cannot reach
 * `system:`, runbook references resolve). Every problem is named by path,
 * e.g. `profiles.oncall-debug.actions.port-forward.ports[0]`.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { AirlockError } from '../errors.js';
import { checkArgvShape } from './argv.js';
import { hasWildcard } from './glob.js';
import { templateProblems } from './groups.js';
import schema from './policy.schema.json' with { type: 'json' };
import { ANY_FURTHER_ARGS, type Policy, type PolicyError, type Profile } from './types.js';

export { schema as policySchema };

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validateSchema = ajv.compile(schema);

/** `/profiles/a/ports/0` → `profiles.a.ports[0]`; the root is `(root)`. */
export function pointerToPath(pointer: string, extra?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function schemaErrors(errors: readonly ErrorObject[]): PolicyError[] {
  const out: PolicyError[] = [];
  const seen = new Set<string>();
  const push = (path: string, message: string) => {
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  };
  for (const e of errors) {
    // Errors inside oneOf/anyOf branches are noise; the combinator's own error is reported instead.
    if (/\/(oneOf|anyOf)\/[0-9]+\//.test(e.schemaPath)) continue;
    switch (e.keyword) {
      case 'required':
        push(
          pointerToPath(e.instancePath, (e.params as { missingProperty: string }).missingProperty),
          'is required',
        );
        break;
      case 'additionalProperties':
        push(
          pointerToPath(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty),
          'is not a known field',
        );
        break;
      case 'propertyNames':
        push(
          pointerToPath(e.instancePath, (e.params as { propertyName: string }).propertyName),
          'is not a valid name (lower-case letters, digits and "-", at most 63 characters)',
        );
        break;
      case 'oneOf':
        push(pointerToPath(e.instancePath), 'must be a port number (1-65535) or a port name');
        break;
      case 'anyOf':
        push(pointerToPath(e.instancePath), 'must state at least one condition');
        break;
      case 'const':
        push(
          pointerToPath(e.instancePath),
          `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`,
        );
        break;
      case 'enum':
        push(
          pointerToPath(e.instancePath),
          `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
        );
        break;
      default:
        push(pointerToPath(e.instancePath), e.message ?? `fails ${e.keyword}`);
    }
  }
  return out;
}

function checkArgvPattern(
  argv: readonly string[],
  path: string,
  kind: 'allow' | 'deny',
  errors: PolicyError[],
) {
  const a0 = argv[0] ?? '';
  if (a0 === ANY_FURTHER_ARGS) errors.push({ path: `${path}[0]`, message: 'argv[0] cannot be "..."' });
  argv.forEach((a, i) => {
    if (a === ANY_FURTHER_ARGS && i !== argv.length - 1) {
      errors.push({ path: `${path}[${i}]`, message: '"..." is only allowed as the last element' });
    }
  });
  if (kind === 'allow' && hasWildcard(a0)) {
    errors.push({ path: `${path}[0]`, message: 'argv[0] of an allow rule must be literal (no * or ?)' });
  }
  const shape = checkArgvShape(kind === 'deny' ? [a0.replace(/[*?]/g, 'x'), ...argv.slice(1)] : argv);
  if (shape) errors.push({ path, message: shape.reason });
}

/**
 * A moderated profile: nobody who may request it may moderate it (else the
 * owner could be their own second pair of eyes), an observer group is not
 * also a moderator group (it would say nothing more), and runbooks are never
 * moderated interactively, so it offers none to machine identities.
 */
function checkModeration(policy: Policy, base: string, profile: Profile, errors: PolicyError[]) {
  const moderation = profile.moderation;
  if (!moderation) return;
  const requesters = new Set(profile.requesterGroups);
  moderation.requiredGroups.forEach((group, i) => {
    if (requesters.has(group)) {
      errors.push({
        path: `${base}.moderation.requiredGroups[${i}]`,
        message: `${group} is also a requester group: a requester could moderate their own session`,
      });
    }
  });
  const moderators = new Set(moderation.requiredGroups);
  moderation.observerGroups?.forEach((group, i) => {
    if (moderators.has(group)) {
      errors.push({
        path: `${base}.moderation.observerGroups[${i}]`,
        message: `${group} is also a moderator group: moderators may ask for the observer role anyway; name it once`,
      });
    }
  });
  profile.runbooks?.forEach((name, i) => {
    if ((policy.runbooks?.[name]?.machineUsers ?? []).length > 0) {
      errors.push({
        path: `${base}.runbooks[${i}]`,
        message: `runbook ${name} is for machine identities; a moderated profile cannot offer it (runbooks are never moderated interactively)`,
      });
    }
  });
}

function checkProfile(policy: Policy, name: string, profile: Profile, errors: PolicyError[]) {
  const base = `profiles.${name}`;
  profile.groups.forEach((g, i) => {
    for (const message of templateProblems(g)) errors.push({ path: `${base}.groups[${i}]`, message });
  });
  if (profile.maxTtlSeconds !== undefined && profile.maxTtlSeconds > policy.limits.maxTtlSeconds) {
    errors.push({
      path: `${base}.maxTtlSeconds`,
      message: `exceeds limits.maxTtlSeconds (${policy.limits.maxTtlSeconds})`,
    });
  }
  if (profile.actions.exec && !profile.commands) {
    errors.push({ path: `${base}.commands`, message: 'is required when actions.exec is allowed' });
  }
  profile.commands?.allow.forEach((r, i) => {
    checkArgvPattern(r.argv, `${base}.commands.allow[${i}].argv`, 'allow', errors);
  });
  profile.commands?.deny.forEach((r, i) => {
    checkArgvPattern(r.argv, `${base}.commands.deny[${i}].argv`, 'deny', errors);
  });
  profile.actions.shell?.argv.forEach((argv, i) => {
    const shape = checkArgvShape(argv);
    if (shape) errors.push({ path: `${base}.actions.shell.argv[${i}]`, message: shape.reason });
  });
  profile.runbooks?.forEach((rb, i) => {
    if (!policy.runbooks?.[rb])
      errors.push({ path: `${base}.runbooks[${i}]`, message: `no runbook named "${rb}"` });
  });
  checkModeration(policy, base, profile, errors);
  profile.approval.autoApprove?.forEach((rule, i) => {
    const path = `${base}.approval.autoApprove[${i}]`;
    if (rule.reasonPattern !== undefined) {
      try {
        new RegExp(rule.reasonPattern, 'u');
      } catch (e) {
        errors.push({
          path: `${path}.reasonPattern`,
          message: `is not a valid regular expression: ${(e as Error).message}`,
        });
      }
    }
    const hours = rule.businessHours;
    if (hours) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: hours.timeZone });
      } catch {
        errors.push({
          path: `${path}.businessHours.timeZone`,
          message: `unknown IANA time zone "${hours.timeZone}"`,
        });
      }
      if (hours.start >= hours.end) {
        errors.push({ path: `${path}.businessHours.end`, message: 'must be later than start' });
      }
    }
    if (rule.runbookOnly && !(profile.runbooks && profile.runbooks.length > 0)) {
      errors.push({ path: `${path}.runbookOnly`, message: 'profile lists no runbooks' });
    }
  });
}

/** Validates a parsed policy; returns every problem found (empty when valid). Never throws. */
export function validatePolicy(json: unknown): PolicyError[] {
  if (!validateSchema(json)) return schemaErrors(validateSchema.errors ?? []);
  const policy = json as unknown as Policy;
  const errors: PolicyError[] = [];
  for (const [name, profile] of Object.entries(policy.profiles)) checkProfile(policy, name, profile, errors);
  for (const [name, runbook] of Object.entries(policy.runbooks ?? {})) {
    runbook.steps.forEach((step, i) => {
      const shape = checkArgvShape(step);
      if (shape) errors.push({ path: `runbooks.${name}.steps[${i}]`, message: shape.reason });
    });
  }
  return errors;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Formats errors as `path: message` lines. */
export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}

/**
 * Parses (when given text) and validates a policy, returning a deeply frozen
 * copy. Throws AirlockError POLICY_INVALID whose `detail` lists every
 * problem as `path: message`, one per line.
 */
export function loadPolicy(json: unknown): Policy {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new AirlockError('POLICY_INVALID', 'policy is not valid JSON', {
        detail: `(root): ${(e as Error).message}`,
        cause: e,
      });
    }
  }
  const errors = validatePolicy(value);
  if (errors.length > 0) {
    throw new AirlockError(
      'POLICY_INVALID',
      `policy is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'})`,
      { detail: formatPolicyErrors(errors) },
    );
  }
  return deepFreeze(structuredClone(value) as Policy);
}
