/**
 * How user names compare wherever the policy counts people (approvers,
 * moderators): case-insensitively after NFKC, so `Alice` cannot approve
 * `alice`'s request nor moderate her session.
 */

/** The form two user names are compared in. */
export function userNameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/** Whether `a` and `b` name the same user. */
export function sameUser(a: string, b: string): boolean {
  return userNameKey(a) === userNameKey(b);
}
