import { describe, expect, it } from 'vitest';
import { testPolicy } from '../core/policy/testing.js';
import { parseAirlockScope, parseCertificateLine } from '../core/ssh-cert/index.js';
import { createAccessBroker } from './access-broker.js';
import type { Identity } from './identity.js';
import { inMemoryBrokerDeps, newKeyLine, person } from './in-memory-broker-test-support.js';

const userKey = newKeyLine('user');
const now = new Date('2026-11-27T10:00:00Z');
const MODERATION = { requiredGroups: ['shell-leads'], min: 1, mode: 'approve-each-command' as const };

function moderatedBroker() {
  return createAccessBroker(
    inMemoryBrokerDeps(() => now, {
      policy: testPolicy((json) => {
        (json.profiles.shell as Record<string, unknown>).moderation = {
          ...MODERATION,
          observerGroups: ['shell-watchers'],
        };
      }),
      adminGroups: ['admins'],
    }),
  );
}

const shellRequest = {
  profile: 'shell',
  cluster: 'dev',
  namespace: 'payments',
  podPatterns: ['*'],
  reason: 'INC-1',
  ttlSeconds: 600,
  sshPublicKey: userKey,
};

/** Asks for `role` as `who`: auto-approved, then the certificate and its scope. */
async function granted(
  broker: ReturnType<typeof moderatedBroker>,
  who: Identity,
  role: 'moderator' | 'observer',
) {
  const created = await broker.create(who, { ...shellRequest, role });
  expect(created.status).toBe('approved');
  return issued(broker, who, created.id);
}

async function issued(broker: ReturnType<typeof moderatedBroker>, who: Identity, id: string) {
  const request = await broker.issueCertificate(who, id);
  const { certificate } = parseCertificateLine(request.certificate?.line ?? '');
  return { certificate, scope: parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev']!) };
}

describe('access broker: four-eyes sessions', () => {
  it("signs a moderated profile's requirement into the owner's certificate", async () => {
    const broker = moderatedBroker();
    const sam = person('sam', ['sre']);
    const created = await broker.create(sam, shellRequest);
    await broker.approve(person('lee', ['sre-leads']), created.id);
    const { scope } = await issued(broker, sam, created.id);
    expect(scope.moderation).toEqual(MODERATION);
    expect(scope.moderator).toBeUndefined();
  });

  it('issues the moderator role to a person in requiredGroups: no jit: groups, permit-pty only', async () => {
    const broker = moderatedBroker();
    const { certificate, scope } = await granted(broker, person('lea', ['shell-leads', 'devs']), 'moderator');
    expect(scope.moderator).toEqual({ groups: ['shell-leads'] });
    expect(scope.moderation).toBeUndefined();
    expect(scope.groups).toEqual([]);
    expect(Object.keys(certificate.extensions).sort()).toEqual(['airlock-scope@airlock.dev', 'permit-pty']);
  });

  it('denies the moderator role to a requester of the profile outside requiredGroups', async () => {
    const broker = moderatedBroker();
    const created = await broker.create(person('sam', ['sre']), { ...shellRequest, role: 'moderator' });
    expect(created.status).toBe('denied');
    await expect(
      broker.create(person('sam', ['sre']), { ...shellRequest, role: 'owner' as 'moderator' }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('issues the observer role to a person in observerGroups (or requiredGroups): role observer, permit-pty only', async () => {
    const broker = moderatedBroker();
    const { certificate, scope } = await granted(
      broker,
      person('obi', ['shell-watchers', 'devs']),
      'observer',
    );
    expect(scope.moderator).toEqual({ groups: ['shell-watchers'], role: 'observer' });
    expect(scope.groups).toEqual([]);
    expect(Object.keys(certificate.extensions).sort()).toEqual(['airlock-scope@airlock.dev', 'permit-pty']);
    expect((await granted(broker, person('lea', ['shell-leads']), 'observer')).scope.moderator).toEqual({
      groups: ['shell-leads'],
      role: 'observer',
    });
  });

  it('denies the observer role outside its groups, and the moderator role to an observer group', async () => {
    const broker = moderatedBroker();
    const sam = await broker.create(person('sam', ['sre']), { ...shellRequest, role: 'observer' });
    expect(sam.status).toBe('denied');
    const obi = await broker.create(person('obi', ['shell-watchers']), {
      ...shellRequest,
      role: 'moderator',
    });
    expect(obi.status).toBe('denied');
  });
});
