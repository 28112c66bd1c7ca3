/**
 * The revocation ConfigMap publisher against an in-memory ConfigMap API with
 * the apiserver's optimistic concurrency (resourceVersion preconditions,
 * 409 on a stale replace or a create of an existing name). The same paths
 * against the real kube-apiserver and the deploy RBAC:
 * test/integration/revocation-config-map.test.ts.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { addKrlRevocation, emptyKrl, encodeKrl, parseKrl } from '../core/ssh-cert/index.js';
import {
  type ConfigMapApi,
  createRevocationConfigMapPublisher,
  type PublishResult,
} from './revocation-config-map.js';
import {
  DENY_LIST_KEY,
  KRL_KEY,
  type LocalRevocationLists,
  mergeDenyLists,
  mergeKrls,
} from './revocation-merge.js';

class ApiError extends Error {
  constructor(readonly code: number) {
    super(`HTTP ${code}`);
  }
}

/** One namespace's ConfigMaps with resourceVersion checks, and hooks to interfere. */
class InMemoryConfigMaps implements ConfigMapApi {
  readonly objects = new Map<string, V1ConfigMap>();
  writes = 0;
  #version = 0;
  /** Runs after each read (e.g. a concurrent writer). */
  afterRead: (() => void) | undefined;
  /** Every call fails with this status while set. */
  failWith: number | undefined;

  put(name: string, body: Omit<V1ConfigMap, 'metadata'>): void {
    this.#version += 1;
    this.objects.set(name, { ...body, metadata: { name, resourceVersion: String(this.#version) } });
  }

  async readNamespacedConfigMap({ name }: { name: string }): Promise<V1ConfigMap> {
    if (this.failWith !== undefined) throw new ApiError(this.failWith);
    const found = this.objects.get(name);
    if (!found) throw new ApiError(404);
    const copy = structuredClone(found);
    this.afterRead?.();
    return copy;
  }

  async replaceNamespacedConfigMap({
    name,
    body,
  }: {
    name: string;
    body: V1ConfigMap;
  }): Promise<V1ConfigMap> {
    if (this.failWith !== undefined) throw new ApiError(this.failWith);
    const found = this.objects.get(name);
    if (!found) throw new ApiError(404);
    if (body.metadata?.resourceVersion !== found.metadata?.resourceVersion) throw new ApiError(409);
    this.writes += 1;
    this.put(name, { data: body.data, binaryData: body.binaryData });
    return this.objects.get(name)!;
  }

  async createNamespacedConfigMap({ body }: { body: V1ConfigMap }): Promise<V1ConfigMap> {
    if (this.failWith !== undefined) throw new ApiError(this.failWith);
    const name = body.metadata?.name ?? '';
    if (this.objects.has(name)) throw new ApiError(409);
    this.writes += 1;
    this.put(name, { data: body.data, binaryData: body.binaryData });
    return this.objects.get(name)!;
  }
}

const now = new Date('2026-03-01T12:00:00Z');
const caKey = new Uint8Array([
  0,
  0,
  0,
  11,
  ...Buffer.from('ssh-ed25519'),
  0,
  0,
  0,
  32,
  ...new Array(32).fill(7),
]);

function localLists(serials: bigint[], keyIds: string[]): LocalRevocationLists {
  let krl = emptyKrl('airlock broker revocations');
  for (const [i, serial] of serials.entries())
    krl = addKrlRevocation(krl, { caKey, serial, keyId: keyIds[i] }, now);
  return {
    denyList: JSON.stringify({ serials: serials.map(String), keyIds }),
    krl: encodeKrl(krl),
  };
}

function setup(local: () => LocalRevocationLists, options: { maxConflicts?: number } = {}) {
  const api = new InMemoryConfigMaps();
  const results: PublishResult[] = [];
  const logs: Record<string, unknown>[] = [];
  const publisher = createRevocationConfigMapPublisher({
    api,
    namespace: 'airlock-system',
    name: 'airlock-revocation',
    readLocal: async () => local(),
    clock: () => now,
    log: (entry) => logs.push(entry),
    observe: (result) => results.push(result),
    retryInitialMs: 10,
    retryMaxMs: 20,
    ...options,
  });
  const published = () => {
    const map = api.objects.get('airlock-revocation');
    return {
      denyList: JSON.parse(map?.data?.[DENY_LIST_KEY] ?? 'null'),
      krl: parseKrl(Buffer.from(map?.binaryData?.[KRL_KEY] ?? '', 'base64')),
    };
  };
  return { api, publisher, results, logs, published };
}

describe('revocation ConfigMap publisher', () => {
  it('creates the ConfigMap when it is missing, then reports unchanged without writing again', async () => {
    const { api, publisher, published } = setup(() => localLists([5n], ['airlock:r1:alice']));
    expect(await publisher.publishOnce()).toBe('created');
    expect(published().denyList).toEqual({ serials: ['5'], keyIds: ['airlock:r1:alice'] });
    expect(published().krl.certificateSections).toEqual([
      expect.objectContaining({ serials: [5n], keyIds: ['airlock:r1:alice'] }),
    ]);
    expect(await publisher.publishOnce()).toBe('unchanged');
    expect(api.writes).toBe(1);
  });

  it('fills the empty ConfigMap deploy/ ships, with resourceVersion as the precondition', async () => {
    const { api, publisher, published } = setup(() => localLists([5n], ['k5']));
    api.put('airlock-revocation', {});
    expect(await publisher.publishOnce()).toBe('updated');
    expect(published().denyList.serials).toEqual(['5']);
    expect(api.objects.get('airlock-revocation')?.metadata?.resourceVersion).toBe('2');
  });

  it('never removes a published revocation: the ConfigMap keeps entries the local files lack (lost volume)', async () => {
    const { api, publisher, published } = setup(() => localLists([9n], ['k9']));
    const earlier = localLists([5n], ['k5']);
    api.put('airlock-revocation', {
      data: {
        [DENY_LIST_KEY]: JSON.stringify({
          serials: ['5'],
          keyIds: ['k5'],
          fingerprints: [`SHA256:${'A'.repeat(43)}`],
        }),
        other: 'kept',
      },
      binaryData: { [KRL_KEY]: Buffer.from(earlier.krl!).toString('base64') },
    });
    expect(await publisher.publishOnce()).toBe('updated');
    expect(published().denyList).toEqual({
      serials: ['5', '9'],
      keyIds: ['k5', 'k9'],
      fingerprints: [`SHA256:${'A'.repeat(43)}`],
    });
    expect(published().krl.certificateSections).toEqual([
      expect.objectContaining({ serials: [5n, 9n], keyIds: ['k5', 'k9'] }),
    ]);
    expect(api.objects.get('airlock-revocation')?.data?.other).toBe('kept');
  });

  it('on a conflict reads again and merges the concurrent write instead of overwriting it', async () => {
    const { api, publisher, results, published } = setup(() => localLists([5n], ['k5']));
    api.put('airlock-revocation', {});
    api.afterRead = () => {
      api.afterRead = undefined; // once: another writer slips in between our read and replace
      api.put('airlock-revocation', {
        data: { [DENY_LIST_KEY]: JSON.stringify({ keyIds: ['by-operator'] }) },
      });
    };
    expect(await publisher.publishOnce()).toBe('updated');
    expect(results).toEqual(['conflict']);
    expect(published().denyList).toEqual({ serials: ['5'], keyIds: ['by-operator', 'k5'] });
  });

  it('gives up after maxConflicts rounds with KUBERNETES_ERROR', async () => {
    const { api, publisher } = setup(() => localLists([5n], ['k5']), { maxConflicts: 3 });
    api.put('airlock-revocation', {});
    api.afterRead = () => api.put('airlock-revocation', {});
    await expect(publisher.publishOnce()).rejects.toMatchObject({
      code: 'KUBERNETES_ERROR',
      message: 'cannot update the revocation ConfigMap airlock-system/airlock-revocation',
      detail: expect.stringContaining('HTTP 409'),
    });
  });

  it('replaces published content the tiers cannot parse, and logs it', async () => {
    const { api, publisher, logs, published } = setup(() => localLists([5n], ['k5']));
    api.put('airlock-revocation', {
      data: { [DENY_LIST_KEY]: '{"serials": [-1]}' },
      binaryData: { [KRL_KEY]: Buffer.from('not a KRL').toString('base64') },
    });
    expect(await publisher.publishOnce()).toBe('updated');
    expect(published().denyList).toEqual({ serials: ['5'], keyIds: ['k5'] });
    expect(published().krl.certificateSections[0]?.serials).toEqual([5n]);
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringContaining('the published revoked.json is invalid'),
      expect.stringContaining('the published revoked.krl is invalid'),
    ]);
  });

  it('refuses to publish an invalid local deny list (nothing is written)', async () => {
    const { api, publisher } = setup(() => ({ denyList: '{"serials": "5"}' }));
    api.put('airlock-revocation', {});
    await expect(publisher.publishOnce()).rejects.toMatchObject({ code: 'CERT_MALFORMED' });
    expect(api.writes).toBe(0);
  });

  it('a failed publish is logged, reported unpublished and retried until it succeeds', async () => {
    let lists = localLists([], []);
    const { api, publisher, results, logs, published } = setup(() => lists);
    api.put('airlock-revocation', {});
    publisher.start();
    await publisher.request();
    expect(publisher.published()).toBe(true);

    api.failWith = 403;
    lists = localLists([5n], ['k5']);
    await publisher.request();
    expect(publisher.published()).toBe(false);
    expect(logs.at(-1)).toMatchObject({
      level: 'error',
      code: 'KUBERNETES_ERROR',
      message: expect.stringContaining(
        'revocations not published to ConfigMap airlock-system/airlock-revocation',
      ),
    });
    api.failWith = undefined;
    // The retry timer (10 ms, then 20 ms) publishes without another request.
    for (let i = 0; i < 200 && !publisher.published(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(publisher.published()).toBe(true);
    expect(published().denyList.serials).toEqual(['5']);
    expect(results).toContain('error');
    expect(results.at(-1)).toBe('updated');
    await publisher.stop();
  });
});

describe('mergeDenyLists and mergeKrls', () => {
  it('mergeDenyLists adds only what is new, and says whether it did', () => {
    expect(
      mergeDenyLists({ serials: [1, '2'], keyIds: ['a'] }, { serials: ['2', '3'], keyIds: ['a'] }),
    ).toEqual({
      document: { serials: ['1', '2', '3'], keyIds: ['a'] },
      added: true,
    });
    expect(
      mergeDenyLists({ serials: ['1'], keyIds: ['a', 'b'] }, { serials: [1], keyIds: ['b'] }).added,
    ).toBe(false);
  });

  it('mergeKrls unions per CA section, keeps the any-CA section apart, and bumps the version only when it added', () => {
    const otherCa = caKey.map((b, i) => (i === caKey.length - 1 ? 9 : b));
    let base = addKrlRevocation(emptyKrl(), { caKey, serial: 1n }, now);
    base = addKrlRevocation(base, { keyId: 'any-ca' }, now);
    const extra = addKrlRevocation(
      addKrlRevocation(emptyKrl(), { caKey, serial: 2n }, now),
      { caKey: otherCa, serial: 1n },
      now,
    );
    const merged = mergeKrls(parseKrl(encodeKrl(base)), parseKrl(encodeKrl(extra)), now);
    expect(merged.added).toBe(true);
    expect(merged.krl.version).toBe(3n);
    expect(merged.krl.certificateSections.map((s) => [s.caKey?.at(-1), s.serials, s.keyIds])).toEqual([
      [7, [1n, 2n], []],
      [undefined, [], ['any-ca']],
      [9, [1n], []],
    ]);
    const again = mergeKrls(parseKrl(encodeKrl(merged.krl)), parseKrl(encodeKrl(extra)), now);
    expect(again.added).toBe(false);
    expect(again.krl.version).toBe(3n);
  });
});
