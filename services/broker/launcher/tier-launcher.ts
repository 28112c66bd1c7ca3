/**
 * The `TierLauncher` port: creates and deletes one access request's own
 * mediator and executor (ephemeral mode). The broker calls it on approval
 * and on revocation; the sweep (launch-sweep.ts) calls it for leftovers.
 * The Kubernetes implementation is kube-tier-launcher.ts;
 * `InMemoryTierLauncher` is the fake for tests of the callers.
 */
import { AirlockError } from '../../core/errors.js';

/** What the broker tells the launcher about an approved request. */
export interface LaunchInput {
  readonly requestId: string;
  /** The cluster the request is for; a launcher serves one cluster and refuses others. */
  readonly cluster: string;
  /** Exactly the request's rendered `jit:` groups: the only groups its executor may impersonate. */
  readonly groups: readonly string[];
  /** When the request's access ends: pods, credentials and roles end then too. */
  readonly accessExpiresAt: Date;
  /** When it was approved: its certificates' `valid_after`, from which its executor's login record is complete. */
  readonly approvedAt: Date;
  readonly now: Date;
}

/** What a launch created. */
export interface LaunchResult {
  /** The owner object (a ConfigMap in `namespace`) every namespaced object hangs off. */
  readonly owner: string;
  readonly namespace: string;
  /** The pods' `activeDeadlineSeconds`: the request's remaining access, whole seconds. */
  readonly activeDeadlineSeconds: number;
  /** The mediator's per-request SSH host key (public line). */
  readonly hostPublicKey: string;
  /** Its host certificate (OpenSSH line) from the airlock host CA, for the request id. */
  readonly hostCertificate: string;
}

/**
 * Port: one request's tier pods and their objects.
 *
 * Lifecycle: `launch` creates everything or, when Kubernetes refuses any
 * object, deletes what it made and throws AirlockError LAUNCH_FAILED whose
 * message is Kubernetes' reason. `remove` deletes a request's objects and is
 * idempotent (false when nothing was left). Neither is retried here.
 */
export interface TierLauncher {
  readonly namespace: string;
  launch(input: LaunchInput): Promise<LaunchResult>;
  remove(requestId: string): Promise<boolean>;
  /** Ids of the requests that have objects now (owner ConfigMaps, per-request roles). */
  launchedRequestIds(): Promise<string[]>;
}

/** Whole seconds of access left at `now` (0 when none). */
export function remainingSeconds(accessExpiresAt: Date, now: Date): number {
  return Math.max(0, Math.floor((accessExpiresAt.getTime() - now.getTime()) / 1000));
}

/** In-memory fake: records launches; `refuse` makes the next launches fail as Kubernetes would. */
export class InMemoryTierLauncher implements TierLauncher {
  readonly namespace = 'airlock-system';
  readonly launched = new Map<string, LaunchInput>();
  refuse: string | undefined;

  async launch(input: LaunchInput): Promise<LaunchResult> {
    if (this.refuse !== undefined) throw new AirlockError('LAUNCH_FAILED', this.refuse);
    this.launched.set(input.requestId, input);
    return {
      owner: `airlock-req-${input.requestId.slice(4)}`,
      namespace: this.namespace,
      activeDeadlineSeconds: remainingSeconds(input.accessExpiresAt, input.now),
      hostPublicKey: 'ssh-ed25519 AAAA fake',
      hostCertificate: 'ssh-ed25519-cert-v01@openssh.com AAAA fake',
    };
  }

  async remove(requestId: string): Promise<boolean> {
    return this.launched.delete(requestId);
  }

  async launchedRequestIds(): Promise<string[]> {
    return [...this.launched.keys()];
  }
}
