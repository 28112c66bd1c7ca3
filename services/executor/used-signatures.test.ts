import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../core/errors-test-support.js';
import { UsedSignatures } from './used-signatures.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const T = BigInt(NOW.getTime() / 1000);
const login = (data: string, validAfter = T - 10n, validBefore = T + 600n) => ({
  signedData: Buffer.from(data),
  validAfter,
  validBefore,
});

describe('UsedSignatures', () => {
  it('accepts a login once and refuses it again with CERT_SIGNATURE_REPLAYED', () => {
    const used = new UsedSignatures({ clock: () => NOW, since: new Date(0) });
    expect(codeOf(() => used.admit(login('a')))).toBe('accepted');
    expect(codeOf(() => used.admit(login('b')))).toBe('accepted');
    expect(codeOf(() => used.admit(login('a')))).toBe('CERT_SIGNATURE_REPLAYED');
  });

  it('refuses a certificate valid from before the record began with CERT_PREDATES_REPLAY_RECORD', () => {
    const used = new UsedSignatures({ clock: () => NOW });
    expect(codeOf(() => used.admit(login('a', T - 1n)))).toBe('CERT_PREDATES_REPLAY_RECORD');
    expect(codeOf(() => used.admit(login('a', T)))).toBe('accepted');
  });

  it('forgets an entry once its certificate has expired', () => {
    let now = NOW;
    const used = new UsedSignatures({ clock: () => now, since: new Date(0) });
    used.admit(login('a', T - 10n, T + 5n));
    expect(used.size).toBe(1);
    now = new Date(NOW.getTime() + 6000);
    used.admit(login('b'));
    expect(used.size).toBe(1);
  });

  it('persists: a restarted executor still refuses a used login and keeps its start', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    const first = new UsedSignatures({ path, clock: () => NOW });
    first.admit(login('a', T));
    first.close();
    const later = new Date(NOW.getTime() + 60_000);
    const second = new UsedSignatures({ path, clock: () => later });
    expect(second.since).toBe(Number(T));
    expect(codeOf(() => second.admit(login('a', T)))).toBe('CERT_SIGNATURE_REPLAYED');
    expect(codeOf(() => second.admit(login('b', T)))).toBe('accepted');
    second.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ v: 1, since: Number(T) });
    expect(lines).toHaveLength(3);
  });

  it('newRecordSince (ephemeral mode): a new record covers certificates valid from the request approval; an existing file keeps its own start', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    const approved = new Date(NOW.getTime() - 30_000);
    // The per-request executor pod starts 30 s after the approval its certificates are valid from.
    const first = new UsedSignatures({ path, clock: () => NOW, newRecordSince: approved });
    expect(first.since).toBe(Number(T) - 30);
    expect(codeOf(() => first.admit(login('a', T - 30n)))).toBe('accepted');
    expect(codeOf(() => first.admit(login('a', T - 30n)))).toBe('CERT_SIGNATURE_REPLAYED');
    expect(codeOf(() => first.admit(login('b', T - 31n)))).toBe('CERT_PREDATES_REPLAY_RECORD');
    first.close();
    // The container restarts (the file on the pod's emptyDir): the record and its start are read back.
    const second = new UsedSignatures({ path, clock: () => NOW, newRecordSince: new Date(0) });
    expect(second.since).toBe(Number(T) - 30);
    expect(codeOf(() => second.admit(login('a', T - 30n)))).toBe('CERT_SIGNATURE_REPLAYED');
    second.close();
    // Never later than now.
    const fresh = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    const future = new UsedSignatures({
      path: fresh,
      clock: () => NOW,
      newRecordSince: new Date(NOW.getTime() + 60_000),
    });
    expect(future.since).toBe(Number(T));
    future.close();
  });

  it('newRecordSince does not apply to an unreadable record: it starts from now', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    writeFileSync(path, 'garbage\n');
    const used = new UsedSignatures({ path, clock: () => NOW, newRecordSince: new Date(0) });
    expect(used.since).toBe(Number(T));
    used.close();
  });

  it('fails closed on an unreadable record: starts a new one from now', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    writeFileSync(path, '{"v":1,"since":0}\n{"h":"zz","exp":1}\n');
    const used = new UsedSignatures({ path, clock: () => NOW });
    expect(used.since).toBe(Number(T));
    expect(codeOf(() => used.admit(login('a', T - 1n)))).toBe('CERT_PREDATES_REPLAY_RECORD');
    used.close();
  });

  it('compacts the file: expired entries are dropped when it is rewritten', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'airlock-used-')), 'used-logins.jsonl');
    let now = NOW;
    const used = new UsedSignatures({ path, clock: () => now, since: new Date(0) });
    for (let i = 0; i < 1100; i++) used.admit(login(`x${i}`, T, T + 1n));
    now = new Date(NOW.getTime() + 2000);
    used.admit(login('last', T, T + 600n));
    used.close();
    const reread = new UsedSignatures({ path, clock: () => now });
    expect(reread.size).toBeLessThan(200);
    expect(codeOf(() => reread.admit(login('last', T, T + 600n)))).toBe('CERT_SIGNATURE_REPLAYED');
    reread.close();
  });
});
