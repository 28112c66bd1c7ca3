import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AccessRequest, InMemoryRequestStore, type RequestStore } from '../request-store.js';
import { openRequestStore } from './open-store.js';
import type { StoreConfig } from './store-config.js';
import { usePostgresServer, useTempDirs } from './store-test-support.js';
import { createTestDatabase } from './testing.js';

const serverUrl = usePostgresServer();
// Registered first, so it runs after the closing of the stores below (after-hooks run last-registered first).
const tempDir = useTempDirs('store');
const open: RequestStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => {});
});

const sample = (id: string, over: Partial<AccessRequest> = {}): AccessRequest => ({
  id,
  requester: { user: 'Alice', groups: ['g'], kind: 'human' },
  scope: { profile: 'p', cluster: 'c', namespace: 'n', podPatterns: ['a-*'], ttlSeconds: 60, reason: 'r' },
  sshPublicKey: 'ssh-ed25519 AAAA',
  keyFingerprint: 'SHA256:x',
  status: 'pending',
  decision: { decision: 'needs-approval', reasons: [] },
  createdAt: '2026-11-27T05:00:00.000Z',
  pendingExpiresAt: '2026-11-27T06:00:00.000Z',
  approvals: [],
  ...over,
});

const vote = (user: string) => ({ user, at: '2026-11-27T05:01:00.000Z' });

/** A config for a fresh database of `kind`. */
async function freshConfig(kind: 'sqlite' | 'postgres'): Promise<StoreConfig> {
  if (kind === 'sqlite') return { sqlite: { path: join(tempDir(), 'requests.db') }, retentionDays: 90 };
  const url = await createTestDatabase(serverUrl());
  return { postgres: { url, tls: 'disable', poolSize: 4, connectTimeoutSeconds: 5 }, retentionDays: 90 };
}

async function openStore(config: StoreConfig): Promise<RequestStore> {
  const { store } = await openRequestStore(config, new Date());
  open.push(store);
  return store;
}

const kinds = ['memory', 'sqlite', 'postgres'] as const;

describe.each(kinds)('RequestStore contract: %s', (kind) => {
  const fresh = async () =>
    kind === 'memory' ? new InMemoryRequestStore() : openStore(await freshConfig(kind));

  it('stores, reads back and lists oldest first, by status and by requester (NFKC, any case)', async () => {
    const store = await fresh();
    await store.put(sample('req-2', { createdAt: '2026-11-27T05:00:02.000Z' }));
    await store.put(sample('req-1', { createdAt: '2026-11-27T05:00:01.000Z', status: 'denied' }));
    await store.put(
      sample('req-3', {
        createdAt: '2026-11-27T05:00:03.000Z',
        requester: { user: 'bob', groups: [], kind: 'human' },
      }),
    );
    expect(await store.get('req-1')).toEqual(
      sample('req-1', { createdAt: '2026-11-27T05:00:01.000Z', status: 'denied' }),
    );
    expect(await store.get('req-none')).toBeUndefined();
    expect((await store.list()).map((r) => r.id)).toEqual(['req-1', 'req-2', 'req-3']);
    expect((await store.list({ status: 'pending' })).map((r) => r.id)).toEqual(['req-2', 'req-3']);
    expect((await store.list({ requester: { user: 'ALICE', kind: 'human' } })).map((r) => r.id)).toEqual([
      'req-1',
      'req-2',
    ]);
    expect(await store.list({ requester: { user: 'alice', kind: 'machine' } })).toEqual([]);
  });

  it('update is one transaction: a change that throws stores nothing; undefined changes nothing', async () => {
    const store = await fresh();
    await store.put(sample('req-1'));
    await expect(
      store.update('req-1', async () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await store.update('req-1', async () => undefined)).toEqual(sample('req-1'));
    const approved = await store.update('req-1', async (r) => ({
      ...(r as AccessRequest),
      status: 'approved',
    }));
    expect(approved?.status).toBe('approved');
    expect((await store.get('req-1'))?.status).toBe('approved');
  });

  it('keeps approvals in order, one per distinct person: a second vote by the same person is refused', async () => {
    const store = await fresh();
    await store.put(sample('req-1'));
    const add = (user: string) =>
      store.update('req-1', async (r) => ({
        ...(r as AccessRequest),
        approvals: [...(r?.approvals ?? []), vote(user)],
      }));
    await add('bob');
    await add('carol');
    await expect(add('BOB')).rejects.toMatchObject({ code: 'APPROVAL_NOT_ALLOWED' });
    expect((await store.get('req-1'))?.approvals.map((v) => v.user)).toEqual(['bob', 'carol']);
  });

  it('loses no update when many run at once on one request', async () => {
    const store = await fresh();
    await store.put(sample('req-1'));
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    await Promise.all(
      users.map((user) =>
        store.update('req-1', async (r) => ({
          ...(r as AccessRequest),
          approvals: [...(r?.approvals ?? []), vote(user)],
        })),
      ),
    );
    expect((await store.get('req-1'))?.approvals.map((v) => v.user).sort()).toEqual([...users].sort());
  });

  it('prunes requests past retention that can change nothing more; keeps pending, live and recent ones', async () => {
    const store = await fresh();
    const old = '2026-01-01T00:00:00.000Z';
    await store.put(sample('req-denied', { createdAt: old, status: 'denied' }));
    await store.put(sample('req-expired', { createdAt: old, status: 'expired' }));
    await store.put(sample('req-pending', { createdAt: old }));
    await store.put(
      sample('req-used', {
        createdAt: old,
        status: 'approved',
        accessExpiresAt: '2026-01-01T01:00:00.000Z',
        approvals: [vote('bob')],
      }),
    );
    await store.put(
      sample('req-live', { createdAt: old, status: 'approved', accessExpiresAt: '2026-12-31T00:00:00.000Z' }),
    );
    await store.put(sample('req-recent', { createdAt: '2026-11-27T00:00:00.000Z', status: 'denied' }));
    const now = new Date('2026-11-28T00:00:00Z');
    expect(await store.prune(new Date('2026-10-01T00:00:00Z'), now)).toBe(3);
    expect((await store.list()).map((r) => r.id).sort()).toEqual(['req-live', 'req-pending', 'req-recent']);
    expect(await store.prune(new Date('2026-10-01T00:00:00Z'), now)).toBe(0);
  });

  it('is healthy while open', async () => {
    expect(await (await fresh()).healthy()).toBe(true);
  });
});

describe.each(['sqlite', 'postgres'] as const)('a closed or unusable %s store', (kind) => {
  it('answers STORE_UNAVAILABLE and is not healthy', async () => {
    const { store } = await openRequestStore(await freshConfig(kind), new Date());
    await store.put(sample('req-1'));
    await store.close();
    expect(await store.healthy()).toBe(false);
    await expect(store.get('req-1')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(store.put(sample('req-2'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});

// Two processes on one SQLite file are not supported (one replica; node:sqlite would block on the lock).
describe.each(['postgres'] as const)('two brokers on one %s database', (kind) => {
  it('never both move a request out of pending: exactly one of two racing approvals wins', async () => {
    const config = await freshConfig(kind);
    const a = await openStore(config);
    const b = await openStore(config);
    for (let i = 0; i < 10; i++) await a.put(sample(`req-${i}`));
    const approve = (store: RequestStore, id: string, user: string) =>
      store.update(id, async (r) => {
        if (r?.status !== 'pending') throw Object.assign(new Error('not pending'), { code: 'REQUEST_STATE' });
        await new Promise((resolve) => setTimeout(resolve, 5)); // the audit append, say
        return { ...r, status: 'approved', approvals: [...r.approvals, vote(user)] };
      });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => [
        approve(a, `req-${i}`, 'bob'),
        approve(b, `req-${i}`, 'carol'),
      ]).flat(),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    for (const request of await b.list()) expect(request.approvals).toHaveLength(1);
  });
});
