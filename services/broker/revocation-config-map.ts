/**
 * Publishes the broker's revocation lists to one Kubernetes ConfigMap, so
 * that they reach the mediator and executor pods: they mount the ConfigMap
 * and watch its files (`revocation.denyListFiles` / `krlFiles`,
 * services/core/service/revocation-files.ts). The broker's own files
 * (`denyListFile`, `revocationKrlFile`, on its volume) stay the durable
 * record that `revoke` waits for; this publisher copies them out.
 *
 * What it writes: `data["revoked.json"]` (the JSON deny list) and
 * `binaryData["revoked.krl"]` (the KRL, when the broker writes one). It
 * never removes a revocation from the ConfigMap: each publish reads the
 * ConfigMap, adds every local revocation it lacks (a union, so a broker
 * whose volume was lost, or a second broker pod, cannot un-revoke what is
 * published), and replaces the object with `metadata.resourceVersion` as the
 * precondition (Kubernetes optimistic concurrency: a concurrent writer makes
 * the replace fail with 409 Conflict, and the publish starts over from a
 * fresh read). Content the readers could not parse is replaced by the local
 * lists (the tiers fail closed on it anyway) and logged. Other keys are kept.
 *
 * When: at start-up, after every revocation, and every `resyncMs` (which
 * repairs a ConfigMap that was deleted or overwritten). A failed publish is
 * logged, counted, reported by `published()` (the broker's /readyz) and
 * retried with backoff until it succeeds: a revocation is never dropped,
 * only late.
 *
 * The broker's RBAC (deploy/base/broker-rbac.yaml) allows get/update/patch
 * on this one ConfigMap and nothing else: `create` cannot be limited to a
 * name, so deploy/ ships the ConfigMap (empty) and the create below is only
 * for setups with broader rights (e.g. a development cluster).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { AirlockError } from '../core/errors.js';
import type { Metrics } from '../core/observability/ops-server.js';
import { type LocalRevocationLists, mergeIntoConfigMap } from './revocation-merge.js';

/** `metadata.managedFields` manager name of the broker's writes. */
export const FIELD_MANAGER = 'airlock-broker';

/** The part of client-node's `CoreV1Api` the publisher uses. */
export type ConfigMapApi = Pick<
  CoreV1Api,
  'readNamespacedConfigMap' | 'replaceNamespacedConfigMap' | 'createNamespacedConfigMap'
>;

/** The outcome of one publish attempt, for metrics. */
export type PublishResult = 'created' | 'updated' | 'unchanged' | 'conflict' | 'error';

/** Options of {@link createRevocationConfigMapPublisher}. */
export interface RevocationConfigMapOptions {
  readonly api: ConfigMapApi;
  readonly namespace: string;
  readonly name: string;
  /** Reads the local lists; called once per attempt. */
  readonly readLocal: () => Promise<LocalRevocationLists>;
  readonly clock: () => Date;
  readonly log: (entry: Record<string, unknown>) => void;
  /** Told of every attempt (and every conflict inside one). */
  readonly observe?: (result: PublishResult) => void;
  /** Re-publish this often even without a revocation; default 60 000 ms. */
  readonly resyncMs?: number;
  /** First retry after a failure, doubled up to `retryMaxMs`; default 1000 ms. */
  readonly retryInitialMs?: number;
  /** Default 30 000 ms. */
  readonly retryMaxMs?: number;
  /** Read-merge-replace rounds per attempt before a conflict counts as a failure; default 5. */
  readonly maxConflicts?: number;
  /** An attempt that takes longer fails (a hung API server must not stop the retries); default 30 000 ms. */
  readonly attemptTimeoutMs?: number;
}

/**
 * A running publisher.
 *
 * Lifecycle: `start` publishes at once and then every `resyncMs`; `request`
 * asks for a publish (coalesced with one already waiting); a failure is
 * retried with backoff; `stop` ends the timers and waits for a running
 * attempt (bounded by `attemptTimeoutMs`).
 */
export interface RevocationConfigMapPublisher {
  /**
   * One publish attempt now. Resolves when the ConfigMap holds every local
   * revocation; rejects with `KUBERNETES_ERROR` (API refused or unreachable,
   * too many conflicts) or what `readLocal` threw. Does not retry by itself.
   */
  publishOnce(): Promise<Exclude<PublishResult, 'conflict' | 'error'>>;
  /** Asks for a publish soon; resolves when the round it joined has ended (never rejects). */
  request(): Promise<void>;
  /** True when the last attempt succeeded: the ConfigMap holds every local revocation. */
  published(): boolean;
  start(): void;
  stop(): Promise<void>;
}

const statusOf = (error: unknown): unknown => (error as { code?: unknown })?.code;

function kubeError(step: string, target: string, cause: unknown): AirlockError {
  const status = statusOf(cause);
  return new AirlockError('KUBERNETES_ERROR', `cannot ${step} the revocation ConfigMap ${target}`, {
    detail: `${typeof status === 'number' ? `HTTP ${status}: ` : ''}${String((cause as Error)?.message ?? cause)}`,
    cause,
  });
}

type PublishOutcome = Exclude<PublishResult, 'conflict' | 'error'>;

/** Where the publisher writes and how it reports, as one publish attempt needs them. */
interface PublishTarget {
  readonly options: RevocationConfigMapOptions;
  /** `namespace/name`, for messages. */
  readonly target: string;
  readonly observe: (result: PublishResult) => void;
  readonly warn: (message: string) => void;
}

/**
 * Writes the merged lists: creates the ConfigMap when there was none, else
 * replaces it with `metadata.resourceVersion` (as read) as the precondition,
 * so a write in between gets 409.
 */
async function writeMergedConfigMap(
  { api, namespace, name }: RevocationConfigMapOptions,
  current: V1ConfigMap | undefined,
  merged: Pick<V1ConfigMap, 'data' | 'binaryData'>,
): Promise<'created' | 'updated'> {
  if (current === undefined) {
    await api.createNamespacedConfigMap({
      namespace,
      fieldManager: FIELD_MANAGER,
      body: { metadata: { name, namespace }, data: merged.data, binaryData: merged.binaryData },
    });
    return 'created';
  }
  await api.replaceNamespacedConfigMap({
    namespace,
    name,
    fieldManager: FIELD_MANAGER,
    body: {
      ...current,
      metadata: { ...current.metadata, managedFields: undefined },
      data: merged.data,
      binaryData: merged.binaryData,
    },
  });
  return 'updated';
}

/** One publish attempt: read, merge, write; a 409 reads again, up to `maxConflicts` rounds. */
async function publishRevocationsOnce({
  options,
  target,
  observe,
  warn,
}: PublishTarget): Promise<PublishOutcome> {
  const { api, namespace, name } = options;
  const maxConflicts = options.maxConflicts ?? 5;
  for (let round = 1; ; round++) {
    const local = await options.readLocal();
    let current: V1ConfigMap | undefined;
    try {
      current = await api.readNamespacedConfigMap({ namespace, name });
    } catch (cause) {
      if (statusOf(cause) !== 404) throw kubeError('read', target, cause);
    }
    const merged = mergeIntoConfigMap(current, local, options.clock(), warn);
    if (!merged.changed) return 'unchanged';
    try {
      return await writeMergedConfigMap(options, current, merged);
    } catch (cause) {
      // 409: Conflict on replace, AlreadyExists on create; either way read again.
      if (statusOf(cause) === 409 && round < maxConflicts) {
        observe('conflict');
        continue;
      }
      throw kubeError(current === undefined ? 'create' : 'update', target, cause);
    }
  }
}

/** `work`, failed with KUBERNETES_ERROR after `timeoutMs` (a hung API server must not stop the retries). */
async function withAttemptTimeout<T>(work: Promise<T>, timeoutMs: number, target: string): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([
      work,
      delay(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
        throw new AirlockError('KUBERNETES_ERROR', `publishing the revocation ConfigMap ${target} timed out`);
      }),
    ]);
  } finally {
    timeout.abort();
  }
}

/** Logs a failed attempt (code, message, detail) and when the next one comes. */
function logPublishFailure(
  log: RevocationConfigMapOptions['log'],
  target: string,
  error: unknown,
  wait: number,
): void {
  log({
    level: 'error',
    component: 'broker.revocation',
    code: (error as AirlockError).code,
    message: `revocations not published to ConfigMap ${target}; retrying in ${wait} ms: ${(error as Error).message}`,
    detail: (error as AirlockError).detail,
  });
}

/** Publishes the local revocation lists to one ConfigMap; see the module comment. */
export function createRevocationConfigMapPublisher(
  options: RevocationConfigMapOptions,
): RevocationConfigMapPublisher {
  const { log } = options;
  const target = `${options.namespace}/${options.name}`;
  const observe = options.observe ?? (() => {});
  const retryInitialMs = options.retryInitialMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;
  const warn = (message: string) => log({ level: 'warn', component: 'broker.revocation', message });
  const publishOnce = () => publishRevocationsOnce({ options, target, observe, warn });

  let ok = false;
  let failures = 0;
  let wanted = false;
  let stopped = false;
  let worker: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;

  async function attempt(): Promise<void> {
    try {
      const result = await withAttemptTimeout(publishOnce(), attemptTimeoutMs, target);
      ok = true;
      failures = 0;
      observe(result);
      if (result !== 'unchanged')
        log({
          level: 'info',
          component: 'broker.revocation',
          message: `revocation ConfigMap ${target} ${result}`,
        });
    } catch (error) {
      ok = false;
      failures += 1;
      observe('error');
      const wait = Math.min(retryMaxMs, retryInitialMs * 2 ** (failures - 1));
      logPublishFailure(log, target, error, wait);
      if (!stopped) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => void request(), wait);
        retryTimer.unref();
      }
    }
  }

  async function drain(): Promise<void> {
    while (wanted && !stopped) {
      wanted = false;
      await attempt();
    }
    // No await between the loop's last check and this line: a request() after it starts a new worker.
    worker = undefined;
  }

  function request(): Promise<void> {
    wanted = true;
    worker ??= drain();
    return worker;
  }

  return {
    publishOnce,
    request,
    published: () => ok,
    start() {
      void request();
      resyncTimer = setInterval(() => void request(), options.resyncMs ?? 60_000);
      resyncTimer.unref();
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(resyncTimer);
      await worker;
    },
  };
}

/** Counts attempts and shows whether the ConfigMap is current, on the broker's /metrics. */
export function revocationPublishMetrics(metrics: Metrics): (result: PublishResult) => void {
  const attempts = metrics.counter(
    'airlock_broker_revocation_publish_total',
    'Attempts to publish the revocation lists to their ConfigMap, by result (created, updated, unchanged, conflict, error).',
    ['result'],
  );
  const current = metrics.gauge(
    'airlock_broker_revocation_published',
    '1 when the last publish put every local revocation into the ConfigMap, 0 when it failed.',
  );
  return (result) => {
    attempts.inc({ result });
    if (result !== 'conflict') current.set(result === 'error' ? 0 : 1);
  };
}
