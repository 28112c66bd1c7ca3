/**
 * The port through which the door finds the mediator of one request. The
 * launcher (services/broker) creates, per approved request, a mediator pod
 * and a Service labelled with the request's id; the Kubernetes
 * implementation is `kube-mediator-resolver.ts`, the in-memory one below is
 * for tests and for a fixed, hand-run mediator.
 */

/** Where a mediator's SSH server listens. */
export interface MediatorAddress {
  readonly host: string;
  readonly port: number;
}

export interface MediatorResolver {
  /**
   * The address of `requestId`'s mediator, or undefined while the request
   * has none (not launched yet, or gone). Rejects with an `AirlockError`
   * when the answer is final (the door refuses at once); any other
   * rejection is a transient failure the door retries within its wait bound.
   * No side effects; safe to call repeatedly.
   */
  resolve(requestId: string): Promise<MediatorAddress | undefined>;
}

/** A resolver backed by a map, changed by the test (or the operator) as mediators come and go. */
export class InMemoryMediatorResolver implements MediatorResolver {
  readonly #addresses = new Map<string, MediatorAddress>();
  /** How many times `resolve` was asked, by request id. */
  readonly lookups = new Map<string, number>();

  set(requestId: string, address: MediatorAddress): void {
    this.#addresses.set(requestId, address);
  }

  delete(requestId: string): void {
    this.#addresses.delete(requestId);
  }

  resolve(requestId: string): Promise<MediatorAddress | undefined> {
    this.lookups.set(requestId, (this.lookups.get(requestId) ?? 0) + 1);
    return Promise.resolve(this.#addresses.get(requestId));
  }
}
