/**
 * How the client renders what the broker answers: a request as a person
 * reads it (`describe`), why a pending one has no certificate yet, and the
 * ssh command that uses a certificate.
 */

import { nearestAutoApprovalMisses } from './auto-approval-miss.js';

export interface RequestView {
  id: string;
  status: string;
  requester: { user: string };
  scope: {
    profile: string;
    cluster: string;
    namespace: string;
    podPatterns: string[];
    ttlSeconds: number;
    reason: string;
  };
  decision: {
    decision: string;
    rule?: string;
    approvers?: { groups: string[]; count: number };
    /** Why, rule by rule: for a request that missed auto-approval, each failed condition. */
    reasons?: string[];
  };
  createdAt: string;
  pendingExpiresAt?: string;
  accessExpiresAt?: string;
  approvals: { user: string }[];
  certificate?: { serial: string };
  launch?: { status: string; code?: string; reason?: string };
}

/**
 * The request as the person should read it now: the broker keeps an approved
 * request `approved` after its access window, but no certificate is valid
 * or issued after `accessExpiresAt`, so it is shown as `expired`.
 */
export function asOf(r: RequestView, now: Date): RequestView {
  const ended = r.accessExpiresAt !== undefined && Date.parse(r.accessExpiresAt) <= now.getTime();
  return r.status === 'approved' && ended ? { ...r, status: 'expired' } : r;
}

export function describe(r: RequestView): string {
  const lines = [
    `${r.id}  ${r.status}`,
    `  requester  ${r.requester.user}`,
    `  scope      ${r.scope.profile} ${r.scope.cluster}/${r.scope.namespace} pods ${r.scope.podPatterns.join(',')} for ${r.scope.ttlSeconds}s`,
    `  reason     ${r.scope.reason}`,
    `  decision   ${r.decision.decision}${r.decision.rule ? ` (${r.decision.rule})` : ''}`,
  ];
  if (r.decision.decision === 'needs-approval') {
    // Which auto-approval came nearest, and what it lacked (as `airlock policy explain` says).
    for (const [i, miss] of nearestAutoApprovalMisses(r.decision.reasons).entries()) {
      lines.push(`  ${i === 0 ? 'missed   ' : '         '}  ${miss}`);
    }
  }
  if (r.status === 'pending' && r.decision.approvers) {
    lines.push(
      `  waiting    for ${r.decision.approvers.count} approval(s) from ${r.decision.approvers.groups.join(', ')} until ${r.pendingExpiresAt}`,
    );
  }
  if (r.approvals.length > 0) lines.push(`  approved   by ${r.approvals.map((a) => a.user).join(', ')}`);
  if (r.accessExpiresAt) lines.push(`  access     until ${r.accessExpiresAt}`);
  if (r.certificate) lines.push(`  cert       serial ${r.certificate.serial}`);
  if (r.launch?.status === 'failed') lines.push(`  pods       ${r.launch.code}: ${r.launch.reason}`);
  else if (r.launch) lines.push(`  pods       ${r.launch.status}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Why a pending request has no certificate yet, from the broker's request
 * object: e.g. `request req-… is pending: needs 1 approval from group sre-leads`.
 */
export function pendingReason(r: RequestView): string {
  const approvers = r.decision.approvers;
  if (!approvers) return `request ${r.id} is pending`;
  const missing = Math.max(approvers.count - r.approvals.length, 0);
  const from =
    approvers.groups.length === 1 ? `group ${approvers.groups[0]}` : `groups ${approvers.groups.join(', ')}`;
  const until = r.pendingExpiresAt ? ` before ${r.pendingExpiresAt}` : '';
  return `request ${r.id} is pending: needs ${missing} approval${missing === 1 ? '' : 's'} from ${from}${until}`;
}

/** Stands in for the gateway's host when `--ssh-host` is not given: the CLI does not know it. */
export const SSH_HOST_PLACEHOLDER = 'GATEWAY';

/** Quotes one word for a POSIX shell, only when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The ssh command that uses the certificate: the private key next to the
 * public one, the certificate file, and the certificate's principal as the
 * user (the gateway maps the principal to the person). Nothing else is
 * known here: no port, no known_hosts.
 */
export function sshCommandFor(
  privateKey: string,
  certificatePath: string,
  user: string,
  host: string,
): string {
  return ['ssh', '-i', privateKey, '-o', `CertificateFile=${certificatePath}`, `${user}@${host}`]
    .map(shellWord)
    .join(' ');
}
