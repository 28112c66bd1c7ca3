import { beforeAll, describe, expect, it } from 'vitest';
import { CaBundle } from './ca-bundle.js';
import { issueSessionGrant } from './leaf-issuer.js';
import { verifyPeerCertificate } from './peer-verifier.js';
import { createTierCa, type TierCa } from './tier-ca.js';

const T0 = new Date('2026-03-01T00:00:00Z');
const HOUR = 3_600_000;
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);
const SCOPE = 'cd'.repeat(32);

let oldCa: TierCa;
let newCa: TierCa;
beforeAll(async () => {
  oldCa = await createTierCa({ tier: 'mediator', now: T0 });
  newCa = await createTierCa({ tier: 'mediator', now: at(100) });
});

describe('CaBundle', () => {
  it('rotates: the new CA signs at once, the old one is trusted until its last grant expired', async () => {
    let bundle = CaBundle.of(oldCa);
    expect(bundle.activeSigner?.fingerprint).toBe(oldCa.fingerprint);
    const signer = bundle.activeSigner!;
    const oldGrant = await issueSessionGrant(signer, {
      sessionId: 'before-rotation',
      user: 'alice',
      scopeDigest: SCOPE,
      notAfter: at(200),
      now: at(100),
    });

    bundle = bundle.rotate(newCa, { now: at(100), maxLeafLifetimeSeconds: 12 * 3600 });
    expect(bundle.activeSigner?.fingerprint).toBe(newCa.fingerprint);
    expect(bundle.entries.map((e) => [e.fingerprint, e.retireAt?.toISOString()])).toEqual([
      [oldCa.fingerprint, at(112).toISOString()],
      [newCa.fingerprint, undefined],
    ]);

    // Grants of both CAs verify against the bundle during the overlap.
    const newGrant = await issueSessionGrant(bundle.activeSigner!, {
      sessionId: 'after-rotation',
      user: 'alice',
      scopeDigest: SCOPE,
      notAfter: at(105),
      now: at(101),
    });
    for (const grant of [oldGrant, newGrant]) {
      await expect(
        verifyPeerCertificate(grant.certPem, {
          trustedCas: bundle.certPems(),
          usage: 'client',
          now: at(102),
        }),
      ).resolves.toBeDefined();
    }
    expect(bundle.pemBundle()).toBe(oldCa.certPem + newCa.certPem);
    expect(bundle.pemBundle()).toMatch(
      /^(-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n){2}$/,
    );

    // The old CA cannot be removed while its grants may still be valid, only after.
    expect(() => bundle.remove(oldCa.fingerprint, { now: at(111) })).toThrow(/still has valid certificates/);
    expect(bundle.removable(at(111))).toEqual([]);
    expect(bundle.removable(at(112)).map((e) => e.fingerprint)).toEqual([oldCa.fingerprint]);
    const pruned = bundle.prune(at(112));
    expect(pruned.certPems()).toEqual([newCa.certPem]);
    await expect(
      verifyPeerCertificate(oldGrant.certPem, {
        trustedCas: pruned.certPems(),
        usage: 'client',
        now: at(112),
      }),
    ).rejects.toMatchObject({ code: 'X509_UNTRUSTED' });
    expect(bundle.remove(oldCa.fingerprint, { now: at(112) }).certPems()).toEqual([newCa.certPem]);
  });

  it('never removes the active signer, and force-removes a retired CA on compromise', () => {
    const bundle = CaBundle.of(oldCa).rotate(newCa, { now: at(100), maxLeafLifetimeSeconds: 3600 });
    expect(() => bundle.remove(newCa.fingerprint, { now: at(1000), force: true })).toThrow(
      /active signing CA/,
    );
    expect(bundle.prune(at(100_000)).activeSigner?.fingerprint).toBe(newCa.fingerprint);
    expect(bundle.remove(oldCa.fingerprint, { now: at(100), force: true }).has(oldCa.fingerprint)).toBe(
      false,
    );
  });

  it('trusts certificates without keys, idempotently, and is immutable', () => {
    const empty = CaBundle.empty();
    const one = empty.add(oldCa.certPem);
    expect(empty.entries).toEqual([]);
    expect(one.add(oldCa).entries).toHaveLength(1);
    expect(one.activeSigner).toBeUndefined();
    expect(one.entries[0]).toMatchObject({
      tier: 'mediator',
      retireAt: undefined,
      fingerprint: oldCa.fingerprint,
    });
    expect(one.remove(oldCa.fingerprint, { now: T0 }).entries).toEqual([]);
  });

  it('caps retirement at the old CA notAfter and refuses to rotate to an expired CA', async () => {
    const shortCa = await createTierCa({ tier: 'mediator', validityDays: 1, now: T0 });
    const bundle = CaBundle.of(shortCa).rotate(newCa, { now: at(20), maxLeafLifetimeSeconds: 12 * 3600 });
    expect(bundle.entries[0]?.retireAt).toEqual(shortCa.notAfter);
    expect(() => CaBundle.of(newCa).rotate(shortCa, { now: at(48), maxLeafLifetimeSeconds: 0 })).toThrow(
      /expired CA/,
    );
  });
});
