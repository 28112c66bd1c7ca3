import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/index.js';
import { testPolicy } from '../core/policy/testing.js';
import { formatPublicKeyLine, generateCaKey } from '../core/ssh-cert/index.js';
import { certificateKeyId, createAccessBroker } from './access-broker.js';
import { InMemoryDenyList } from './deny-list.js';
import type { Identity } from './identity.js';
import { InMemoryRequestStore } from './request-store.js';
import { createRevocationCatchUp } from './revocation-catch-up.js';

const person = (user: string, groups: string[]): Identity => ({ user, groups, kind: 'human', via: 'oidc' });

describe('revocation catch-up (the sweeping replica repairs what another replica revoked)', () => {
  it('adds every revoked request of the store to its lists once, with serial and key id, and asks for a publish', async () => {
    const now = new Date('2026-11-27T10:00:00Z');
    const store = new InMemoryRequestStore();
    // Replica 1 revokes into its own lists (which it then loses with its pod).
    const broker = createAccessBroker({
      policy: testPolicy(),
      store,
      audit: new InMemoryAuditTrail('broker', () => now),
      denyList: new InMemoryDenyList(),
      caKey: generateCaKey('ed25519'),
      adminGroups: ['admins'],
      clock: () => now,
    });
    const alice = person('alice', ['sre']);
    const input = {
      profile: 'shell',
      cluster: 'dev',
      namespace: 'payments',
      podPatterns: ['api-0'],
      reason: 'debug',
      ttlSeconds: 600,
      sshPublicKey: formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'user'),
    };
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
