/**
 * Publishes the broker's revocation lists to one Kubernetes ConfigMap, so
 * that they reach the mediator and executor pods: they mount the ConfigMap
 * and watch its files (`revocation.denyListFiles` / `krlFiles`,
 * services/core/revocation-files.ts). The broker's own files
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
import type { Metrics } from '../core/ops-server.js';
import {
  type DenyListDocument,
  encodeKrl,
  type Krl,
  type KrlCertificateSection,
  type KrlDocument,
  parseDenyList,
  parseKrl,
} from '../core/ssh-cert/index.js';

/** The ConfigMap key of the JSON deny list (`data`). */
export const DENY_LIST_KEY = 'revoked.json';
/** The ConfigMap key of the KRL (`binaryData`: mounted as the raw bytes). */
export const KRL_KEY = 'revoked.krl';
/** `metadata.managedFields` manager name of the broker's writes. */
export const FIELD_MANAGER = 'airlock-broker';

/** The part of client-node's `CoreV1Api` the publisher uses. */
export type ConfigMapApi = Pick<
  CoreV1Api,
  'readNamespacedConfigMap' | 'replaceNamespacedConfigMap' | 'createNamespacedConfigMap'
>;

/** The broker's local revocation lists, as on disk. */
export interface LocalRevocationLists {
  /** The JSON deny list's text (`parseDenyList` format). */
  readonly denyList: string;
  /** The KRL's bytes; absent when the broker writes no KRL. */
  readonly krl?: Uint8Array;
}

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

/** Union of two deny lists (serials as decimal strings); `added` when `extra` had something `base` lacks. */
export function mergeDenyLists(
  base: DenyListDocument,
  extra: DenyListDocument,
): { document: DenyListDocument; added: boolean } {
  let added = false;
  const union = (a: readonly string[], b: readonly string[]) => {
    const out = [...new Set(a)];
    for (const item of b) {
      if (out.includes(item)) continue;
      out.push(item);
      added = true;
    }
    return out;
  };
  const serials = union((base.serials ?? []).map(String), (extra.serials ?? []).map(String));
  const keyIds = union(base.keyIds ?? [], extra.keyIds ?? []);
  const fingerprints = union(base.fingerprints ?? [], extra.fingerprints ?? []);
  return { document: { serials, keyIds, ...(fingerprints.length > 0 ? { fingerprints } : {}) }, added };
}

const hex = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? '' : Buffer.from(bytes).toString('hex');

function serialCovered(section: KrlCertificateSection, serial: bigint): boolean {
  return (
    section.serials.includes(serial) ||
    section.serialRanges.some((r) => serial >= r.min && serial <= r.max) ||
    section.serialBitmaps.some((b) => serial >= b.offset && ((b.bitmap >> (serial - b.offset)) & 1n) === 1n)
  );
}

/**
 * Everything `extra` revokes added to `base` (per CA section: serials, ranges,
 * bitmaps, key ids; explicit keys and fingerprints). When something was
 * added, the version is past both inputs' and `generatedAt` is `now`;
 * otherwise `base` comes back unchanged with `added: false`. The result is
 * unsigned (airlock writes no KRL signatures; a signed base keeps its entries).
 */
export function mergeKrls(base: Krl, extra: Krl, now: Date): { krl: KrlDocument; added: boolean } {
  let added = false;
  const sections = base.certificateSections.map((s) => ({ ...s }));
  for (const section of extra.certificateSections) {
    let target = sections.find(
      (s) => (s.caKey === undefined) === (section.caKey === undefined) && hex(s.caKey) === hex(section.caKey),
    );
    if (target === undefined) {
      target = { caKey: section.caKey, serials: [], serialRanges: [], serialBitmaps: [], keyIds: [] };
      sections.push(target);
    }
    const serials = section.serials.filter((serial) => !serialCovered(target, serial));
    const ranges = section.serialRanges.filter(
      (r) => !target.serialRanges.some((t) => t.min === r.min && t.max === r.max),
    );
    const bitmaps = section.serialBitmaps.filter(
      (b) => !target.serialBitmaps.some((t) => t.offset === b.offset && t.bitmap === b.bitmap),
    );
    const keyIds = section.keyIds.filter((id) => !target.keyIds.includes(id));
    if (serials.length + ranges.length + bitmaps.length + keyIds.length === 0) continue;
    added = true;
    Object.assign(target, {
      serials: [...target.serials, ...serials].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      serialRanges: [...target.serialRanges, ...ranges],
      serialBitmaps: [...target.serialBitmaps, ...bitmaps],
      keyIds: [...target.keyIds, ...keyIds],
    });
  }
  const unionBlobs = (a: readonly Uint8Array[], b: readonly Uint8Array[]) => {
    const fresh = b.filter((x) => !a.some((y) => hex(y) === hex(x)));
    if (fresh.length > 0) added = true;
    return [...a, ...fresh];
  };
  const explicitKeys = unionBlobs(base.explicitKeys, extra.explicitKeys);
  const sha1Fingerprints = unionBlobs(base.sha1Fingerprints, extra.sha1Fingerprints);
  const sha256Fingerprints = unionBlobs(base.sha256Fingerprints, extra.sha256Fingerprints);
  const { signed: _signed, ...unsigned } = base;
  if (!added) return { krl: { ...unsigned, signed: false }, added };
  return {
    krl: {
      ...unsigned,
      signed: false,
      // biome-ignore lint/complexity/useMathMinMax: versions are bigints, which Math.max does not take
      version: (base.version > extra.version ? base.version : extra.version) + 1n,
      generatedAt: BigInt(Math.floor(now.getTime() / 1000)),
      certificateSections: sections,
      explicitKeys,
      sha1Fingerprints,
      sha256Fingerprints,
    },
    added,
  };
}

/** Parsed published content, or `undefined` (logged) when readers could not use it either. */
function publishedOrNothing<T>(
  raw: string | undefined,
  parse: (raw: string) => T,
  key: string,
  warn: (message: string) => void,
): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (error) {
    warn(`the published ${key} is invalid and is replaced by the broker's list: ${String(error)}`);
    return undefined;
  }
}

function parseDenyListDocument(text: string): DenyListDocument {
  parseDenyList(text); // throws CERT_MALFORMED on anything the tiers would refuse
  return JSON.parse(text) as DenyListDocument;
}

/**
 * The ConfigMap's `data` and `binaryData` with every local revocation added
 * (pure). `changed` is false when the ConfigMap already holds them all.
 * Throws when the local lists themselves are invalid.
 */
export function mergeIntoConfigMap(
  current: Pick<V1ConfigMap, 'data' | 'binaryData'> | undefined,
  local: LocalRevocationLists,
  now: Date,
  warn: (message: string) => void,
): { data: Record<string, string>; binaryData: Record<string, string>; changed: boolean } {
  const data = { ...(current?.data ?? {}) };
  const binaryData = { ...(current?.binaryData ?? {}) };
  let changed = false;
  // A key may live in data or binaryData, not both (ConfigMap validation).
  if (DENY_LIST_KEY in binaryData) {
    delete binaryData[DENY_LIST_KEY];
    changed = true;
  }
  const localDenyList = parseDenyListDocument(local.denyList);
  const publishedDenyList = publishedOrNothing(
    data[DENY_LIST_KEY],
    parseDenyListDocument,
    DENY_LIST_KEY,
    warn,
  );
  const denyList = publishedDenyList
    ? mergeDenyLists(publishedDenyList, localDenyList)
    : { document: mergeDenyLists({}, localDenyList).document, added: true };
  if (denyList.added) {
    data[DENY_LIST_KEY] = `${JSON.stringify(denyList.document, null, 1)}\n`;
    changed = true;
  }
  if (local.krl !== undefined) {
    if (KRL_KEY in data) {
      delete data[KRL_KEY];
      changed = true;
    }
    const localKrl = parseKrl(local.krl);
    const publishedKrl = publishedOrNothing(
      binaryData[KRL_KEY],
      (base64) => parseKrl(Buffer.from(base64, 'base64')),
      KRL_KEY,
      warn,
    );
    if (publishedKrl === undefined) {
      binaryData[KRL_KEY] = Buffer.from(local.krl).toString('base64');
      changed = true;
    } else {
      const merged = mergeKrls(publishedKrl, localKrl, now);
      if (merged.added) {
        binaryData[KRL_KEY] = Buffer.from(encodeKrl(merged.krl)).toString('base64');
        changed = true;
      }
    }
  }
  return { data, binaryData, changed };
}

/** Publishes the local revocation lists to one ConfigMap; see the module comment. */
export function createRevocationConfigMapPublisher(
  options: RevocationConfigMapOptions,
): RevocationConfigMapPublisher {
  const { api, namespace, name, clock, log } = options;
  const target = `${namespace}/${name}`;
  const observe = options.observe ?? (() => {});
  const maxConflicts = options.maxConflicts ?? 5;
  const retryInitialMs = options.retryInitialMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;
  const warn = (message: string) => log({ level: 'warn', component: 'broker.revocation', message });

  async function publishOnce(): Promise<Exclude<PublishResult, 'conflict' | 'error'>> {
    for (let round = 1; ; round++) {
      const local = await options.readLocal();
      let current: V1ConfigMap | undefined;
      try {
        current = await api.readNamespacedConfigMap({ namespace, name });
      } catch (cause) {
        if (statusOf(cause) !== 404) throw kubeError('read', target, cause);
      }
      const merged = mergeIntoConfigMap(current, local, clock(), warn);
      if (!merged.changed) return 'unchanged';
      try {
        if (current === undefined) {
          await api.createNamespacedConfigMap({
            namespace,
            fieldManager: FIELD_MANAGER,
            body: { metadata: { name, namespace }, data: merged.data, binaryData: merged.binaryData },
          });
          return 'created';
        }
        // metadata.resourceVersion (as read) is the precondition: a write in between gets 409.
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

  let ok = false;
  let failures = 0;
  let wanted = false;
  let stopped = false;
  let worker: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;

  async function attempt(): Promise<void> {
    const timeout = new AbortController();
    try {
      const result = await Promise.race([
        publishOnce(),
        delay(attemptTimeoutMs, undefined, { signal: timeout.signal }).then(() => {
          throw new AirlockError(
            'KUBERNETES_ERROR',
            `publishing the revocation ConfigMap ${target} timed out`,
          );
        }),
      ]);
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
      log({
        level: 'error',
        component: 'broker.revocation',
        code: (error as AirlockError).code,
        message: `revocations not published to ConfigMap ${target}; retrying in ${wait} ms: ${(error as Error).message}`,
        detail: (error as AirlockError).detail,
      });
      if (!stopped) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => void request(), wait);
        retryTimer.unref();
      }
    } finally {
      timeout.abort();
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
