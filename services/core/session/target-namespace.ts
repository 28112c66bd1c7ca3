/**
 * The namespace an intent names: the one it asks for, or else the session's
 * own (`-n` is optional on every command). The one place this default is
 * taken, so the tiers cannot disagree on it.
 */
export function targetNamespace(
  requested: string | null | undefined,
  scope: { readonly namespace: string },
): string {
  return requested || scope.namespace;
}
