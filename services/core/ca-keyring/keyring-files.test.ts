/**
 * Keyrings on disk and what the running tiers read from them: each step
 * rewrites the trust bundle, a switch reaches the watcher without a restart,
 * and a keyring that is tampered with or loosely protected fails closed.
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOpenSshPrivateKey, generateCaKey, parsePublicKeyList } from '../ssh-cert/index.js';
import { createTierCa } from '../x509/index.js';
import type { CaKind } from './keyring.js';
import {
  addKeyToKeyring,
  generateCaKeyFor,
  importCaKey,
  readSshCaKeyring,
  retireKeyringKeys,
  switchKeyringSigner,
} from './keyring-files.js';
import { parseCaBundle, watchCaBundle, watchSshCaKeyring, watchTierCaKeyring } from './watch.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'keyring-'));

/** A clock the test moves: the watchers re-check files once per second of it. */
function steppingClock() {
  let now = Date.parse('2026-01-05T10:00:00Z');
  return {
    clock: () => new Date(now),
    tick: () => {
      now += 1000;
    },
  };
}

/** Adds to the keyring in `dir` a new CA key for `tier`, made and added at `now`, named `name`. */
async function addNewKey(dir: string, tier: CaKind, now: Date, name: string): Promise<void> {
  addKeyToKeyring(dir, tier, await generateCaKeyFor(tier, { now }), { now, name });
}

describe('SSH user CA keyring on disk', () => {
  it('add → switch → retire: the bundle lists both keys during the overlap, the broker signs with the switched key', async () => {
    const dir = join(tmp(), 'ssh-user');
    const { clock, tick } = steppingClock();
    await addNewKey(dir, 'ssh-user', clock(), 'old');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'old.key')).mode & 0o777).toBe(0o600);
    const signer = watchSshCaKeyring(dir, clock);
    const oldKey = signer().active;

    await addNewKey(dir, 'ssh-user', clock(), 'new');
    const bundle = () => parsePublicKeyList(readFileSync(join(dir, 'trusted-user-ca-keys.pub'), 'utf8'));
    expect(bundle()).toHaveLength(2);
    tick();
    expect(signer().active.publicKey.blob).toEqual(oldKey.publicKey.blob); // added, not signing

    switchKeyringSigner(dir, { ca: 'ssh-user', now: clock(), maxLifetimeSeconds: 0 });
    tick();
    const newKey = signer().active;
    expect(newKey.publicKey.blob).not.toEqual(oldKey.publicKey.blob);
    expect(signer().keys).toHaveLength(2);

    retireKeyringKeys(dir, { ca: 'ssh-user', now: clock() });
    expect(bundle().map((k) => k.blob)).toEqual([newKey.publicKey.blob]);
    tick();
    expect(signer().keys.map((k) => k.entry.name)).toEqual(['new']);
  });

  it('fails closed on a private key group or others can read, and on a key the manifest does not name', async () => {
    const dir = join(tmp(), 'ssh-user');
    const now = new Date();
    addKeyToKeyring(dir, 'ssh-user', await generateCaKeyFor('ssh-user', { now }), { now, name: 'k' });
    chmodSync(join(dir, 'k.key'), 0o640);
    expect(() => readSshCaKeyring(dir)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('mode 0640') }),
    );
    const other = generateCaKey('ed25519');
    writeFileSync(join(dir, 'k.key'), formatOpenSshPrivateKey(other.privateKey, 'other'), { mode: 0o600 });
    chmodSync(join(dir, 'k.key'), 0o600);
    expect(() => readSshCaKeyring(dir)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('is not the key') }),
    );
  });

  it('imports an existing key (migration from sshCaKeyFile) and refuses to import the same key twice', async () => {
    const d = tmp();
    const existing = generateCaKey('ed25519', 'legacy');
    writeFileSync(join(d, 'legacy'), formatOpenSshPrivateKey(existing.privateKey, 'legacy'), { mode: 0o600 });
    const dir = join(d, 'ssh-user');
    const now = new Date();
    addKeyToKeyring(dir, 'ssh-user', await importCaKey('ssh-user', { keyFile: join(d, 'legacy') }), { now });
    expect(readSshCaKeyring(dir).active.publicKey.blob).toEqual(existing.publicKey.blob);
    const again = await importCaKey('ssh-user', { keyFile: join(d, 'legacy') });
    expect(() => addKeyToKeyring(dir, 'ssh-user', again, { now })).toThrow(
      expect.objectContaining({ code: 'CA_KEY_EXISTS' }),
    );
  });
});

describe('tier CA keyring on disk', () => {
  it('a switch reaches the tier: the next call returns the new CA, the bundle holds both until retire', async () => {
    const dir = join(tmp(), 'mediator');
    const { clock, tick } = steppingClock();
    await addNewKey(dir, 'mediator', clock(), 'old');
    const current = watchTierCaKeyring(dir, 'mediator', clock);
    const oldCa = await current();
    await addNewKey(dir, 'mediator', clock(), 'new');
    const bundle = watchCaBundle(join(dir, 'ca-bundle.pem'), clock);
    expect(bundle().certPems).toHaveLength(2);
    switchKeyringSigner(dir, { ca: 'mediator', now: clock(), maxLifetimeSeconds: 0 });
    tick();
    const newCa = await current();
    expect(newCa.fingerprint).not.toBe(oldCa.fingerprint);
    expect(await current()).toBe(newCa); // imported once per signer
    retireKeyringKeys(dir, { ca: 'mediator', now: clock() });
    tick();
    expect(bundle().certPems).toEqual([newCa.certPem]);
  });

  it('switch refuses when the published bundle does not match the keyring (CA_ROTATION_STATE)', async () => {
    const dir = join(tmp(), 'executor');
    const now = new Date();
    for (const name of ['old', 'new']) {
      addKeyToKeyring(dir, 'executor', await generateCaKeyFor('executor', { now }), { now, name });
    }
    const pems = parseCaBundle(readFileSync(join(dir, 'ca-bundle.pem'), 'utf8')).certPems;
    writeFileSync(join(dir, 'ca-bundle.pem'), pems[0]!); // the new CA lost from the bundle
    expect(() => switchKeyringSigner(dir, { ca: 'executor', now, maxLifetimeSeconds: 60 })).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
  });

  it('refuses to import another tier’s CA, and a keyring of another kind', async () => {
    const d = tmp();
    const executorCa = await createTierCa({ tier: 'executor', now: new Date() });
    writeFileSync(join(d, 'ca.crt'), executorCa.certPem);
    writeFileSync(join(d, 'ca.key'), executorCa.privateKeyPem, { mode: 0o600 });
    await expect(
      importCaKey('mediator', { certFile: join(d, 'ca.crt'), keyFile: join(d, 'ca.key') }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    const dir = join(d, 'executor');
    const imported = await importCaKey('executor', {
      certFile: join(d, 'ca.crt'),
      keyFile: join(d, 'ca.key'),
    });
    addKeyToKeyring(dir, 'executor', imported, { now: new Date() });
    await expect(watchTierCaKeyring(dir, 'mediator', () => new Date())()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });

  it('a CA bundle with no certificate or a broken one fails closed', () => {
    const d = tmp();
    writeFileSync(join(d, 'empty.pem'), 'nothing here\n');
    expect(() => watchCaBundle(join(d, 'empty.pem'), () => new Date())()).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => parseCaBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toThrow(
      expect.objectContaining({ code: 'X509_INVALID' }),
    );
  });
});
