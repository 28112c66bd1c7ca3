/**
 * The `TierLauncher` port: creates and deletes one access request's own
 * mediator and executor (ephemeral mode). The broker calls it on approval
 * and on revocation; the sweep (tier-lifecycle.ts) calls it for leftovers,
 * and to replace a live request's pod that is gone.
 * The Kubernetes implementation is kube-tier-launcher.ts;
 * `InMemoryTierLauncher` is the fake for tests of the callers.
 */
import { AirlockError } from '../../core/errors.js';
import type { EphemeralTier } from './launch-names.js';

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

/** What the sweep tells the launcher about a request that is still approved and live. */
export type RestoreInput = Pick<LaunchInput, 'requestId' | 'accessExpiresAt' | 'now'>;

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
  /**
   * Replaces the pod of a tier that is gone (deleted, evicted) from a live
   * request's stored objects — the same owner ConfigMap, ServiceAccounts and
   * credential Secrets — with `activeDeadlineSeconds` = the access left; a
   * pod that ended (Failed, Succeeded) is deleted, and replaced by the next
   * call. Resolves to the tiers whose pod it created; [] when both run, or
   * when the request has no owner ConfigMap (nothing to restore from).
   */
  restore(input: RestoreInput): Promise<EphemeralTier[]>;
  /** Ids of the requests that have objects now (owner ConfigMaps, per-request roles). */
  launchedRequestIds(): Promise<string[]>;
}

/** Whole seconds of access left at `now` (0 when none). */
export function remainingSeconds(accessExpiresAt: Date, now: Date): number {
  return Math.max(0, Math.floor((accessExpiresAt.getTime() - now.getTime()) / 1000));
}

/**
 * In-memory fake: records launches; `refuse` makes the next launches fail as
 * Kubernetes would; `lose` marks a tier's pod of a request as gone (what
 * `kubectl delete pod` does), `restored` records what `restore` replaced.
 */
export class InMemoryTierLauncher implements TierLauncher {
  readonly namespace = 'airlock-system';
  readonly launched = new Map<string, LaunchInput>();
  readonly restored: { requestId: string; tiers: EphemeralTier[]; activeDeadlineSeconds: number }[] = [];
  readonly #lost = new Map<string, Set<EphemeralTier>>();
  refuse: string | undefined;

  lose(requestId: string, tier: EphemeralTier): void {
    this.#lost.set(requestId, new Set([...(this.#lost.get(requestId) ?? []), tier]));
  }

  async restore(input: RestoreInput): Promise<EphemeralTier[]> {
    const lost = this.launched.has(input.requestId) ? [...(this.#lost.get(input.requestId) ?? [])] : [];
    this.#lost.delete(input.requestId);
    if (lost.length > 0) {
      const activeDeadlineSeconds = remainingSeconds(input.accessExpiresAt, input.now);
      this.restored.push({ requestId: input.requestId, tiers: lost.sort(), activeDeadlineSeconds });
    }
    return lost;
  }

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
    this.#lost.delete(requestId);
    return this.launched.delete(requestId);
  }

  async launchedRequestIds(): Promise<string[]> {
    return [...this.launched.keys()];
  }
}
