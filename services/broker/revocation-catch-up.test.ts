import { describe, expect, it } from 'vitest';
import { certificateKeyId, createAccessBroker } from './access-broker.js';
import { InMemoryDenyList } from './deny-list.js';
import { inMemoryBrokerDeps, newKeyLine, person, shellRequestFor } from './in-memory-broker-test-support.js';
import { InMemoryRequestStore } from './request-store.js';
import { createRevocationCatchUp } from './revocation-catch-up.js';

describe('revocation catch-up (the sweeping replica repairs what another replica revoked)', () => {
  it('adds every revoked request of the store to its lists once, with serial and key id, and asks for a publish', async () => {
    const now = new Date('2026-11-27T10:00:00Z');
    const store = new InMemoryRequestStore();
    // Replica 1 revokes into its own lists (which it then loses with its pod).
    const broker = createAccessBroker(inMemoryBrokerDeps(() => now, { store, adminGroups: ['admins'] }));
    const alice = person('alice', ['sre']);
    const input = shellRequestFor(newKeyLine('user'));
    const created = await broker.create(alice, input);
    await broker.approve(person('lee', ['sre-leads']), created.id);
    const issued = await broker.issueCertificate(alice, created.id);
    await broker.revoke(alice, created.id);
    const kept = await broker.create(alice, input);

    // Replica 2 holds the sweep lock: its lists get the revocation, once.
    const lists = new InMemoryDenyList();
    let publishes = 0;
    const catchUp = createRevocationCatchUp({ store, lists, onAdded: () => publishes++ });
    expect(await catchUp.run()).toBe(1);
    expect(lists.keyIds).toEqual([certificateKeyId(created.id, 'alice')]);
    expect(lists.serials).toEqual([BigInt(issued.certificate?.serial ?? '')]);
    expect(lists.keyIds).not.toContain(certificateKeyId(kept.id, 'alice'));
    expect(await catchUp.run()).toBe(0);
    expect(publishes).toBe(1);
  });
});
