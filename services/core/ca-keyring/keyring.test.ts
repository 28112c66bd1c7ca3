/**
 * The rotation steps as pure functions: add trusts without signing, switch
 * records when the old key may go, retire refuses the signer and waits for
 * the old key's credentials to expire.
 */
import { describe, expect, it } from 'vitest';
import {
  addKey,
  formatDuration,
  type KeyringManifest,
  parseKeyringManifest,
  retireKeys,
  switchKey,
} from './keyring.js';

const t0 = new Date('2026-01-05T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const key = (name: string) => ({ ca: 'mediator' as const, name, fingerprint: `fp-${name}` });

function twoKeys(): KeyringManifest {
  return addKey(addKey(undefined, key('old'), t0), key('new'), at(60));
}

describe('CA keyring steps', () => {
  it('add: the first key signs at once, a later one is trusted but does not sign', () => {
    const first = addKey(undefined, key('old'), t0);
    expect(first.active).toBe('old');
    const second = addKey(first, key('new'), at(60));
    expect(second.active).toBe('old');
    expect(second.keys.map((k) => [k.name, k.activatedAt])).toEqual([
      ['old', t0.toISOString()],
      ['new', undefined],
    ]);
  });

  it('add: refuses a second key with the same name or the same key (CA_KEY_EXISTS), or another CA kind', () => {
    const one = addKey(undefined, key('old'), t0);
    expect(() => addKey(one, key('old'), t0)).toThrow(expect.objectContaining({ code: 'CA_KEY_EXISTS' }));
    expect(() => addKey(one, { ...key('again'), fingerprint: 'fp-old' }, t0)).toThrow(
      expect.objectContaining({ code: 'CA_KEY_EXISTS' }),
    );
    expect(() => addKey(one, { ...key('x'), ca: 'executor' }, t0)).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
  });

  it('switch: the newest unused key signs; the old one may be retired after the longest credential lifetime', () => {
    const switched = switchKey(twoKeys(), { now: at(120), maxLifetimeSeconds: 12 * 3600 });
    expect(switched.active).toBe('new');
    const old = switched.keys.find((k) => k.name === 'old')!;
    expect(old.deactivatedAt).toBe(at(120).toISOString());
    expect(old.retireAfter).toBe(at(120 + 12 * 3600).toISOString());
    expect(switched.keys.find((k) => k.name === 'new')!.activatedAt).toBe(at(120).toISOString());
  });

  it('switch: refuses with nothing new to switch to, an unknown key, or the signer itself (CA_ROTATION_STATE)', () => {
    const one = addKey(undefined, key('old'), t0);
    const options = { now: at(1), maxLifetimeSeconds: 60 };
    expect(() => switchKey(one, options)).toThrow(expect.objectContaining({ code: 'CA_ROTATION_STATE' }));
    expect(() => switchKey(twoKeys(), { ...options, to: 'nope' })).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
    expect(() => switchKey(twoKeys(), { ...options, to: 'old' })).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
  });

  it('switch back (rollback) makes the old key sign again and clears its retirement', () => {
    const switched = switchKey(twoKeys(), { now: at(120), maxLifetimeSeconds: 3600 });
    const back = switchKey(switched, { to: 'old', now: at(180), maxLifetimeSeconds: 3600 });
    expect(back.active).toBe('old');
    expect(back.keys.find((k) => k.name === 'old')!.retireAfter).toBeUndefined();
    expect(back.keys.find((k) => k.name === 'new')!.retireAfter).toBe(at(180 + 3600).toISOString());
  });

  it('retire: refused while the old key may have live credentials, stating the wait (CA_RETIRE_TOO_EARLY)', () => {
    const switched = switchKey(twoKeys(), { now: at(120), maxLifetimeSeconds: 12 * 3600 });
    let error: unknown;
    try {
      retireKeys(switched, { now: at(120 + 3600) });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'CA_RETIRE_TOO_EARLY',
      message: `old may still have live credentials until ${at(120 + 12 * 3600).toISOString()}; wait 11h`,
    });
  });

  it('retire: allowed once the wait is over, or earlier with force; the signer stays', () => {
    const switched = switchKey(twoKeys(), { now: at(120), maxLifetimeSeconds: 3600 });
    for (const options of [{ now: at(120 + 3600) }, { now: at(121), force: true }]) {
      const { manifest, retired } = retireKeys(switched, options);
      expect(retired.map((k) => k.name)).toEqual(['old']);
      expect(manifest.keys.map((k) => k.name)).toEqual(['new']);
      expect(manifest.active).toBe('new');
    }
  });

  it('retire: refuses the signer and an empty choice (CA_ROTATION_STATE); a key that never signed goes at once', () => {
    const keys = twoKeys();
    expect(() => retireKeys(keys, { names: ['old'], now: at(1), force: true })).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
    expect(() => retireKeys(addKey(undefined, key('only'), t0), { now: at(1) })).toThrow(
      expect.objectContaining({ code: 'CA_ROTATION_STATE' }),
    );
    expect(retireKeys(keys, { now: at(61) }).retired.map((k) => k.name)).toEqual(['new']);
  });

  it('formats waits in the two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration((3 * 3600 + 12 * 60 + 5) * 1000)).toBe('3h 12m');
    expect(formatDuration(90_000_000)).toBe('1d 1h');
  });
});

describe('keyring.json', () => {
  const valid = twoKeys();

  it('round-trips', () => {
    expect(parseKeyringManifest(JSON.stringify(valid))).toEqual(valid);
  });

  it.each([
    ['not JSON', '{'],
    ['another version', JSON.stringify({ ...valid, version: 2 })],
    ['an unknown CA', JSON.stringify({ ...valid, ca: 'broker' })],
    ['no keys', JSON.stringify({ ...valid, keys: [] })],
    ['an active key it does not list', JSON.stringify({ ...valid, active: 'gone' })],
    [
      'a key name that is a path',
      JSON.stringify({ ...valid, keys: [{ ...valid.keys[0], name: '../etc/x' }] }),
    ],
    ['a dot-file key name', JSON.stringify({ ...valid, keys: [{ ...valid.keys[0], name: '.hidden' }] })],
    ['a key listed twice', JSON.stringify({ ...valid, keys: [valid.keys[0], valid.keys[0]] })],
    ['a bad time', JSON.stringify({ ...valid, keys: [{ ...valid.keys[0], addedAt: 'soon' }] })],
  ])('refuses %s with CONFIG_INVALID', (_, text) => {
    expect(() => parseKeyringManifest(text)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
