/**
 * What both policy decisions check alike (authorize.ts for a session's
 * intent, decide.ts for an access request): a place named in a scope must be
 * inside the profile. And `show`, the safe rendering of a value from the wire
 * in a reason.
 */
import { globMatchAny } from './glob.js';
import { CLUSTER_NAME, NAMESPACE_NAME } from './groups.js';
import type { Profile } from './types.js';

/**
 * Renders a value from the wire for a reason string: strings are quoted and
 * escaped (no terminal control sequences reach a user's screen), anything
 * else is named by its type, so hostile objects cannot throw from toString.
 */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `(${value === null ? 'null' : typeof value})`;
}

const PLACES = {
  cluster: { code: 'SCOPE_CLUSTER', field: 'clusters', shape: CLUSTER_NAME },
  namespace: { code: 'SCOPE_NAMESPACE', field: 'namespaces', shape: NAMESPACE_NAME },
} as const;

/**
 * Why `value` is not a `place` of the profile `p` (a string the profile's
 * globs match and, with `wellFormed`, a valid name of its kind), or
 * undefined when it is one.
 */
export function placeOutsideProfile(
  profile: Profile,
  p: string,
  place: keyof typeof PLACES,
  value: unknown,
  wellFormed = true,
): { code: (typeof PLACES)[typeof place]['code']; reason: string; rule: string } | undefined {
  const { code, field, shape } = PLACES[place];
  if (
    typeof value === 'string' &&
    (!wellFormed || shape.test(value)) &&
    globMatchAny(profile.scope[field], value)
  ) {
    return undefined;
  }
  return { code, reason: `${place} ${show(value)} is outside the profile`, rule: `${p}.scope.${field}` };
}
