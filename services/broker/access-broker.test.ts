import { describe, expect, it } from 'vitest';
import { InMemoryAuditTrail } from '../core/audit/index.js';
import { runbookStepsDigest } from '../core/policy/index.js';
import { testPolicy } from '../core/policy/testing.js';
import { parseAirlockScope, parseCertificateLine } from '../core/ssh-cert/index.js';
import { type AccessBroker, createAccessBroker } from './access-broker.js';
import { InMemoryDenyList } from './deny-list.js';
import type { Identity } from './identity.js';
import { inMemoryBrokerDeps, newKeyLine, person, shellRequestFor } from './in-memory-broker-test-support.js';
import { InMemoryRequestStore } from './request-store.js';

function setup(now = new Date('2026-11-27T10:00:00Z')) {
  const store = new InMemoryRequestStore();
  const audit = new InMemoryAuditTrail('broker', () => now);
  const denyList = new InMemoryDenyList();
  const broker: AccessBroker = createAccessBroker(
    inMemoryBrokerDeps(() => now, { store, audit, denyList, adminGroups: ['admins'] }),
  );
  return { broker, store, audit, denyList };
}

const shellRequest = shellRequestFor(newKeyLine('user'));

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

  it('signs the runbook (name and digest of the approved steps) into the scope, without pty or forwarding (finding 1)', async () => {
    const { broker } = setup();
    const bot: Identity = {
      user: 'system:serviceaccount:ops:bot',
      groups: ['bots'],
      kind: 'machine',
      via: 'tokenreview',
    };
    const created = await broker.create(bot, {
      ...shellRequest,
      profile: 'debug',
      podPatterns: ['api-*'],
      runbook: 'snapshot',
    });
    expect(created.status).toBe('approved');
    const issued = await broker.issueCertificate(bot, created.id);
    const { certificate } = parseCertificateLine(issued.certificate?.line ?? '');
    expect(Object.keys(certificate.extensions)).toEqual(['airlock-scope@airlock.dev']);
    const scope = parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev']!);
    expect(scope.runbook).toEqual({
      name: 'snapshot',
      stepsDigest: runbookStepsDigest([
        ['ps', 'aux'],
        ['ls', '-la', '/app'],
      ]),
    });
    expect(scope.containerPatterns).toBeUndefined();
  });

  it('signs requested container patterns into the scope and refuses ones outside the profile (finding 8)', async () => {
    const { broker } = setup();
    const sam = person('sam', ['sre']);
    const created = await broker.create(sam, { ...shellRequest, containerPatterns: ['app', 'side-*'] });
    await broker.approve(person('lee', ['sre-leads']), created.id);
    const issued = await broker.issueCertificate(sam, created.id);
    const { certificate } = parseCertificateLine(issued.certificate?.line ?? '');
    const scope = parseAirlockScope(certificate.extensions['airlock-scope@airlock.dev']!);
    expect(scope.containerPatterns).toEqual(['app', 'side-*']);
    expect(scope.runbook).toBeUndefined();

    const limited = createAccessBroker(
      inMemoryBrokerDeps(() => new Date('2026-11-27T10:00:00Z'), {
        policy: testPolicy((json) => {
          (json.profiles.shell!.scope as { containers?: string[] }).containers = ['app'];
        }),
        audit: new InMemoryAuditTrail('broker'),
        adminGroups: ['admins'],
      }),
    );
    const refused = await limited.create(sam, { ...shellRequest, containerPatterns: ['side-*'] });
    expect(refused.status).toBe('denied');
    expect(refused.decision.code).toBe('SCOPE_CONTAINER');
    const notAnArray = { ...shellRequest, containerPatterns: 'app' } as unknown as typeof shellRequest;
    await expect(limited.create(sam, notAnArray)).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
});
