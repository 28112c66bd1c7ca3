/**
 * Kubernetes object names as the command language accepts them
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
 * pods, deployments, replicasets, events and nodes are RFC 1123 subdomains
 * (lowercase alphanumerics, `-` and `.`, at most 253), namespaces and
 * containers RFC 1123 labels (no `.`, at most 63). Each check throws a USAGE
 * error naming the bad value.
 */
import type { CommandName } from './commands.js';
import { q, usageError } from './parse-args.js';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isValidName(value: string, kind: 'label' | 'subdomain'): boolean {
  return kind === 'label'
    ? value.length <= 63 && LABEL.test(value)
    : value.length <= 253 && SUBDOMAIN.test(value);
}

export function checkNamespace(command: CommandName, value: string): string {
  if (!isValidName(value, 'label')) {
    throw usageError(
      command,
      `invalid namespace ${q(value)}: lowercase letters, digits and '-', at most 63 characters`,
    );
  }
  return value;
}

export function checkObjectName(command: CommandName, what: string, value: string): string {
  if (!isValidName(value, 'subdomain')) {
    throw usageError(
      command,
      `invalid ${what} name ${q(value)}: lowercase letters, digits, '-' and '.', at most 253 characters`,
    );
  }
  return value;
}

export function checkContainer(command: CommandName, value: string): string {
  if (!isValidName(value, 'label')) {
    throw usageError(
      command,
      `invalid container name ${q(value)}: lowercase letters, digits and '-', at most 63 characters`,
    );
  }
  return value;
}

/** Splits `[NS/]NAME`; the namespace defaults to `defaultNamespace`. */
export function splitNamespaced(
  command: CommandName,
  what: string,
  value: string,
  defaultNamespace: string,
): { namespace: string; name: string } {
  const parts = value.split('/');
  if (parts.length === 1) return { namespace: defaultNamespace, name: checkObjectName(command, what, value) };
  if (parts.length !== 2)
    throw usageError(command, `invalid ${what} ${q(value)}: expected ${what} or namespace/${what}`);
  const [namespace, name] = parts as [string, string];
  return { namespace: checkNamespace(command, namespace), name: checkObjectName(command, what, name) };
}
