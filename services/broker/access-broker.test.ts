import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/index.js';
import { testPolicy } from '../core/policy/testing.js';
import { formatPublicKeyLine, generateCaKey, parseCertificateLine } from '../core/ssh-cert/index.js';
import { type AccessBroker, createAccessBroker } from './access-broker.js';
import { InMemoryDenyList } from './deny-list.js';
import type { Identity } from './identity.js';
import { InMemoryRequestStore } from './request-store.js';

const person = (user: string, groups: string[]): Identity => ({ user, groups, kind: 'human', via: 'oidc' });
const userKey = formatPublicKeyLine(generateCaKey('ed25519').publicKey, 'user');

function setup(now = new Date('2026-11-27T10:00:00Z')) {
  const store = new InMemoryRequestStore();
  const audit = new InMemoryAuditTrail('broker', () => now);
  const denyList = new InMemoryDenyList();
  const broker: AccessBroker = createAccessBroker({
    policy: testPolicy(),
    store,
    audit,
    denyList,
    caKey: generateCaKey('ed25519'),
    adminGroups: ['admins'],
    clock: () => now,
  });
  return { broker, store, audit, denyList };
}

const shellRequest = {
  profile: 'shell',
  cluster: 'dev',
  namespace: 'payments',
  podPatterns: ['api-0'],
  reason: 'debug',
  ttlSeconds: 600,
  sshPublicKey: userKey,
};

describe('access broker (in-memory ports)', () => {
  it('grants permit-pty only for a profile with shell, and no port forwarding without port-forward', async () => {
    const { broker, audit } = setup();
    const sam = person('sam', ['sre']);
    const created = await broker.create(sam, shellRequest);
    expect(created.status).toBe('pending');
    await broker.approve(person('lee', ['sre-leads']), created.id, 'ok');
    const issued = await broker.issueCertificate(sam, created.id);
    const { certificate } = parseCertificateLine(issued.certificate?.line ?? '');
    expect(Object.keys(certificate.extensions).sort()).toEqual(['airlock-scope@airlock.dev', 'permit-pty']);
    expect(audit.events().map((e) => [e.event, e.actor.user, e.decision])).toEqual([
      ['request.created', 'sam', undefined],
      ['request.approved', 'lee', 'allow'],
      ['cert.issued', 'sam', 'allow'],
    ]);
  });

  it('fails closed when the audit trail cannot be written: nothing is stored', async () => {
    const { broker, store, audit } = setup();
    await audit.close();
    await expect(broker.create(person('sam', ['sre']), shellRequest)).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
    });
    expect(await store.list()).toEqual([]);
  });

  it('counts distinct approvals: the same approver twice is refused before the count is reached', async () => {
    const { broker } = setup();
    const dev = person('dev1', ['devs']);
    const created = await broker.create(dev, {
      ...shellRequest,
      profile: 'debug',
      podPatterns: ['api-*'],
      ttlSeconds: 3600,
    });
    const lead = person('lead1', ['leads']);
    expect((await broker.approve(lead, created.id)).status).toBe('pending');
    await expect(broker.approve(lead, created.id)).rejects.toMatchObject({ code: 'APPROVAL_NOT_ALLOWED' });
    expect((await broker.approve(person('LEAD2', ['leads']), created.id)).status).toBe('approved');
  });

  it('revokes by key id even before a certificate was fetched, and then refuses the certificate', async () => {
    const { broker, denyList } = setup();
    const sam = person('sam', ['sre']);
    const created = await broker.create(sam, shellRequest);
    await broker.approve(person('lee', ['sre-leads']), created.id);
    await broker.revoke(person('root', ['admins']), created.id, 'incident over');
    expect(denyList.keyIds).toEqual([`airlock:${created.id}:sam`]);
    await expect(broker.issueCertificate(sam, created.id)).rejects.toMatchObject({ code: 'REQUEST_STATE' });
  });
});
