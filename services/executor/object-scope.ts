/**
 * What a session may see of the objects `get` / `list` return (security
 * review finding 8): lists are cut down to the pods of the session's scope,
 * and pod specs lose their literal environment unless the profile reveals it.
 * Pure functions over the objects as JSON (the Kubernetes wire shape).
 */
import { globMatchAny } from '../core/policy/glob.js';

/** Replaces each redacted value: a string, so consumers that parse pod specs still can. */
export const REDACTED = '<redacted>';

/** `kubectl apply` keeps the whole last-applied object, env values included, in this annotation. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Which pods a session sees: both the profile's and the session's pod patterns must match. */
export interface PodFilter {
  readonly profilePods: readonly string[];
  readonly sessionPods: readonly string[];
}

function podVisible(filter: PodFilter, name: unknown): boolean {
  return (
    typeof name === 'string' &&
    globMatchAny(filter.profilePods, name) &&
    globMatchAny(filter.sessionPods, name)
  );
}

/**
 * A list cut down to the session's pods: `pods` by name, `events` whose
 * involved object is a pod by that pod's name (events about other kinds
 * stay). Other kinds are returned as they are.
 */
export function filterListToScope(kind: string, list: unknown, filter: PodFilter): unknown {
  if (!isObject(list) || !Array.isArray(list.items)) return list;
  if (kind === 'pods') {
    return {
      ...list,
      items: list.items.filter(
        (pod) => isObject(pod) && isObject(pod.metadata) && podVisible(filter, pod.metadata.name),
      ),
    };
  }
  if (kind === 'events') {
    return {
      ...list,
      items: list.items.filter((event) => {
        if (!isObject(event)) return false;
        const involved = event.involvedObject;
        if (!isObject(involved) || involved.kind !== 'Pod') return true;
        return podVisible(filter, involved.name);
      }),
    };
  }
  return list;
}

function redactContainers(containers: unknown): void {
  if (!Array.isArray(containers)) return;
  for (const container of containers) {
    if (!isObject(container)) continue;
    if (Array.isArray(container.env)) {
      for (const variable of container.env) {
        if (isObject(variable) && Object.hasOwn(variable, 'value')) variable.value = REDACTED;
      }
    }
    if (Array.isArray(container.envFrom)) {
      // Names of ConfigMaps and Secrets and prefixes: kept in shape, hidden in content.
      container.envFrom = container.envFrom.map((source) => {
        if (!isObject(source)) return REDACTED;
        const hidden: Json = {};
        for (const key of Object.keys(source))
          hidden[key] = isObject(source[key]) ? { name: REDACTED } : REDACTED;
        return hidden;
      });
    }
  }
}

function redactPodSpec(spec: unknown): void {
  if (!isObject(spec)) return;
  redactContainers(spec.containers);
  redactContainers(spec.initContainers);
  redactContainers(spec.ephemeralContainers);
}

/** One object: a pod's spec, or the pod template of a deployment / replicaset. */
function redactObject(object: unknown): void {
  if (!isObject(object)) return;
  const metadata = object.metadata;
  if (
    isObject(metadata) &&
    isObject(metadata.annotations) &&
    Object.hasOwn(metadata.annotations, LAST_APPLIED)
  )
    metadata.annotations[LAST_APPLIED] = REDACTED;
  const spec = object.spec;
  if (!isObject(spec)) return;
  redactPodSpec(spec);
  if (isObject(spec.template)) redactPodSpec(spec.template.spec);
}

/**
 * Replaces `env[].value`, the contents of `envFrom` and the last-applied
 * annotation in an object or a list of objects (in place; the value is a
 * fresh parse). `valueFrom` references stay: they name, not hold, the value.
 */
export function redactEnv(value: unknown): unknown {
  if (isObject(value) && Array.isArray(value.items)) for (const item of value.items) redactObject(item);
  else redactObject(value);
  return value;
}
