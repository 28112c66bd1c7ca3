/**
 * The KRL encoder: what it writes, OpenSSH's own `ssh-keygen -Q` reads and
 * judges the same way as airlock's parser; `parseKrl` inverts it exactly.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeygenWorkspace, SSH_KEYGEN } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../errors.js';
import { certificateBlobFromLine, parseCertificate, type SshCertificate } from './certificate.js';
import { addKrlRevocation, emptyKrl, encodeKrl, type KrlDocument } from './krl-writer.js';
import { parsePublicKeyLine } from './public-key.js';
import { createKrlRevocationList, parseKrl } from './revocation.js';

let ws: KeygenWorkspace;
let ca: { path: string; publicLine: string };
let otherCa: { path: string; publicLine: string };
let user: { path: string; publicLine: string };
let caBlob: Uint8Array;
const certFiles = new Map<string, string>();

beforeAll(() => {
  ws = new KeygenWorkspace();
  ca = ws.makeKey('ed25519', 'ca');
  otherCa = ws.makeKey('ecdsa-256', 'other-ca');
  user = ws.makeKey('ed25519', 'user');
  caBlob = parsePublicKeyLine(ca.publicLine).key.blob;
});
afterAll(() => ws.cleanup());

/** Signs a certificate with ssh-keygen and keeps it in a file for `ssh-keygen -Q`. */
function cert(serial: number, keyId = 'alice', caPath = ca.path): { file: string; parsed: SshCertificate } {
  const name = `${caPath === ca.path ? 'ca' : 'other'}-${serial}-${keyId}`;
  const args = ['-I', keyId, '-n', 'alice', '-z', String(serial), '-V', '+1h'];
  const line = ws.signCert(caPath, user.path, args);
  const file = ws.path(`${name}-cert.pub`);
  writeFileSync(file, `${line}\n`);
  certFiles.set(name, file);
  return { file, parsed: parseCertificate(certificateBlobFromLine(line)) };
}

/** `ssh-keygen -Q -f <krl> <cert>`: true when OpenSSH reports REVOKED (exit 1). */
function opensshSaysRevoked(krl: Uint8Array, certFile: string): boolean {
  const krlFile = ws.path(`written-${Math.random().toString(16).slice(2)}.krl`);
  writeFileSync(krlFile, krl);
  try {
    const out = execFileSync(SSH_KEYGEN, ['-Q', '-f', krlFile, certFile], { stdio: 'pipe' }).toString();
    expect(out).toMatch(/: ok$/m);
    return false;
  } catch (error) {
    const { status, stdout } = error as { status: number; stdout: Buffer };
    expect(status).toBe(1);
    expect(stdout.toString()).toMatch(/: REVOKED$/m);
    return true;
  }
}

const airlockSaysRevoked = (krl: Uint8Array, c: SshCertificate) =>
  createKrlRevocationList(parseKrl(krl)).revocationReason(c) !== undefined;

describe('encodeKrl read by OpenSSH', () => {
  it('ssh-keygen -Q reports a certificate revoked by serial under its CA as REVOKED, others ok', () => {
    const krl = encodeKrl(addKrlRevocation(emptyKrl(), { caKey: caBlob, serial: 42n }, new Date()));
    expect(opensshSaysRevoked(krl, cert(42).file)).toBe(true);
    expect(opensshSaysRevoked(krl, cert(43).file)).toBe(false);
    // The same serial from another CA is not revoked: the section is scoped to its CA.
    expect(opensshSaysRevoked(krl, cert(42, 'alice', otherCa.path).file)).toBe(false);
  });

  it('ssh-keygen -Q reports a certificate revoked by key id as REVOKED, others ok', () => {
    const krl = encodeKrl(
      addKrlRevocation(emptyKrl(), { caKey: caBlob, keyId: 'airlock:req-1:alice' }, new Date()),
    );
    expect(opensshSaysRevoked(krl, cert(7, 'airlock:req-1:alice').file)).toBe(true);
    expect(opensshSaysRevoked(krl, cert(7, 'airlock:req-2:alice').file)).toBe(false);
  });

  it('OpenSSH and airlock agree on every kind of section the encoder writes', () => {
    const doc: KrlDocument = {
      ...emptyKrl('all sections'),
      version: 3n,
      generatedAt: 1_700_000_000n,
      certificateSections: [
        {
          caKey: caBlob,
          serials: [3n, 9n],
          serialRanges: [{ min: 100n, max: 200n }],
          // Serials 1000, 1002 and 1005.
          serialBitmaps: [{ offset: 1000n, bitmap: 0b100101n }],
          keyIds: ['mallory'],
        },
        // Any CA: a key id revoked whoever signed it.
        { caKey: undefined, serials: [], serialRanges: [], serialBitmaps: [], keyIds: ['eve'] },
      ],
    };
    const krl = encodeKrl(doc);
    // [serial, key id, revoked?] of certificates signed by the CA of the first section...
    const byCa: [number, string, boolean][] = [
      [3, 'alice', true],
      [4, 'alice', false],
      [150, 'alice', true],
      [201, 'alice', false],
      [1000, 'alice', true],
      [1001, 'alice', false],
      [1005, 'alice', true],
      [1006, 'alice', false],
      [5, 'mallory', true],
    ];
    // ...and by another CA, which only the any-CA section reaches.
    const byOtherCa: [number, string, boolean][] = [
      [5, 'mallory', false],
      [5, 'eve', true],
      [3, 'alice', false],
    ];
    const cases = [
      ...byCa.map(([serial, keyId, revoked]) => [serial, keyId, ca.path, revoked] as const),
      ...byOtherCa.map(([serial, keyId, revoked]) => [serial, keyId, otherCa.path, revoked] as const),
    ];
    for (const [serial, keyId, caPath, revoked] of cases) {
      const c = cert(serial, keyId, caPath);
      expect(opensshSaysRevoked(krl, c.file), `${serial} ${keyId}`).toBe(revoked);
      expect(airlockSaysRevoked(krl, c.parsed), `${serial} ${keyId}`).toBe(revoked);
    }
    // ssh-keygen's own listing of the KRL shows what was written.
    const krlFile = ws.path('listed.krl');
    writeFileSync(krlFile, krl);
    const listing = execFileSync(SSH_KEYGEN, ['-Q', '-l', '-f', krlFile]).toString();
    expect(listing).toContain('# KRL version 3');
    expect(listing).toContain('# Comment: all sections');
  });

  it('explicit keys and SHA256 fingerprints revoke the user key in every certificate', () => {
    const userBlob = parsePublicKeyLine(user.publicLine).key.blob;
    const byKey = encodeKrl({ ...emptyKrl(), explicitKeys: [userBlob] });
    expect(opensshSaysRevoked(byKey, cert(11).file)).toBe(true);
    const sha256 = new Uint8Array(createHash('sha256').update(userBlob).digest());
    const byHash = encodeKrl({ ...emptyKrl(), sha256Fingerprints: [sha256] });
    expect(opensshSaysRevoked(byHash, cert(12).file)).toBe(true);
  });

  it('a KRL written by ssh-keygen -k re-encodes to the same bytes', () => {
    const spec = 'serial: 5\nserial: 100-200\nid: mallory\n';
    const bytes = Uint8Array.from(ws.makeKrl(spec, `${ca.path}.pub`));
    const original = parseKrl(bytes);
    expect(parseKrl(encodeKrl(original))).toEqual(original);
    expect(Buffer.from(encodeKrl(original)).equals(bytes)).toBe(true);
  });
});

describe('encodeKrl refuses what OpenSSH would not load', () => {
  const section = {
    caKey: new Uint8Array([1]),
    serials: [],
    serialRanges: [],
    serialBitmaps: [],
    keyIds: [],
  };
  const bad: [string, KrlDocument][] = [
    ['serial 0', { ...emptyKrl(), certificateSections: [{ ...section, serials: [0n] }] }],
    [
      'range from 0',
      { ...emptyKrl(), certificateSections: [{ ...section, serialRanges: [{ min: 0n, max: 3n }] }] },
    ],
    [
      'range min > max',
      { ...emptyKrl(), certificateSections: [{ ...section, serialRanges: [{ min: 5n, max: 3n }] }] },
    ],
    [
      'bitmap naming serial 0',
      { ...emptyKrl(), certificateSections: [{ ...section, serialBitmaps: [{ offset: 0n, bitmap: 1n }] }] },
    ],
    [
      'bitmap past 2^64-1',
      {
        ...emptyKrl(),
        certificateSections: [{ ...section, serialBitmaps: [{ offset: (1n << 64n) - 1n, bitmap: 2n }] }],
      },
    ],
    ['SHA1 hash of 19 bytes', { ...emptyKrl(), sha1Fingerprints: [new Uint8Array(19)] }],
    ['SHA256 hash of 20 bytes', { ...emptyKrl(), sha256Fingerprints: [new Uint8Array(20)] }],
  ];
  for (const [name, doc] of bad) {
    it(`refuses ${name} with CERT_MALFORMED`, () => {
      expect(() => encodeKrl(doc)).toThrow(AirlockError);
      expect(() => encodeKrl(doc)).toThrow(/cannot encode KRL/);
    });
  }

  it('refuses a signed KRL, which it could not re-sign', () => {
    expect(() => encodeKrl({ ...emptyKrl(), signed: true })).toThrow(/signature/);
    expect(() =>
      addKrlRevocation(
        { ...emptyKrl(), signed: true } as unknown as KrlDocument,
        { caKey: caBlob, keyId: 'x' },
        new Date(),
      ),
    ).toThrow(/signed KRL/);
  });
});

describe('addKrlRevocation', () => {
  it('adds to the section of the CA, bumps the version, stamps the time, and does not repeat entries', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const once = addKrlRevocation(emptyKrl(), { caKey: caBlob, serial: 9n, keyId: 'k' }, now);
    const twice = addKrlRevocation(once, { caKey: caBlob, serial: 9n, keyId: 'k' }, now);
    const other = addKrlRevocation(twice, { caKey: new Uint8Array([7]), serial: 9n }, now);
    expect(once.version).toBe(1n);
    expect(once.generatedAt).toBe(BigInt(now.getTime() / 1000));
    expect(twice.version).toBe(2n);
    expect(twice.certificateSections).toEqual(once.certificateSections);
    expect(other.certificateSections).toHaveLength(2);
    expect(other.certificateSections[1]!.serials).toEqual([9n]);
    // A serial already covered by a range is not listed again.
    const ranged: KrlDocument = {
      ...emptyKrl(),
      certificateSections: [
        { caKey: caBlob, serials: [], serialRanges: [{ min: 1n, max: 10n }], serialBitmaps: [], keyIds: [] },
      ],
    };
    expect(
      addKrlRevocation(ranged, { caKey: caBlob, serial: 5n }, now).certificateSections[0]!.serials,
    ).toEqual([]);
  });

  it('puts a key id without a CA in the any-CA section, which OpenSSH applies to every CA', () => {
    const krl = addKrlRevocation(emptyKrl(), { keyId: 'airlock:req-9:bob' }, new Date());
    expect(krl.certificateSections).toEqual([
      { caKey: undefined, serials: [], serialRanges: [], serialBitmaps: [], keyIds: ['airlock:req-9:bob'] },
    ]);
    const bytes = encodeKrl(krl);
    expect(opensshSaysRevoked(bytes, cert(21, 'airlock:req-9:bob', otherCa.path).file)).toBe(true);
    expect(opensshSaysRevoked(bytes, cert(21, 'airlock:req-9:bob').file)).toBe(true);
    expect(opensshSaysRevoked(bytes, cert(21, 'airlock:req-8:bob').file)).toBe(false);
  });

  it('refuses serial 0, a serial without its CA, and an empty CA key', () => {
    expect(() => addKrlRevocation(emptyKrl(), { caKey: caBlob, serial: 0n }, new Date())).toThrow(
      AirlockError,
    );
    expect(() => addKrlRevocation(emptyKrl(), { serial: 5n }, new Date())).toThrow(/without the CA key/);
    expect(() => addKrlRevocation(emptyKrl(), { caKey: new Uint8Array(0), keyId: 'x' }, new Date())).toThrow(
      /empty CA key/,
    );
  });
});

describe('encodeKrl properties', () => {
  const serial = fc.bigInt({ min: 1n, max: (1n << 64n) - 1n });
  const range = fc.tuple(serial, serial).map(([a, b]) => (a <= b ? { min: a, max: b } : { min: b, max: a }));
  const bitmap = fc.record({
    offset: fc.bigInt({ min: 1n, max: 1n << 40n }),
    bitmap: fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }),
  });
  const krlDocument: fc.Arbitrary<KrlDocument> = fc.record({
    version: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    generatedAt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    comment: fc.string({ unit: 'grapheme', maxLength: 20 }),
    certificateSections: fc.array(
      fc.record({
        caKey: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        serials: fc.array(serial, { maxLength: 5 }),
        serialRanges: fc.array(range, { maxLength: 3 }),
        serialBitmaps: fc.array(bitmap, { maxLength: 2 }),
        keyIds: fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 4 }),
      }),
      { maxLength: 3 },
    ),
    explicitKeys: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }),
    sha1Fingerprints: fc.array(fc.uint8Array({ minLength: 20, maxLength: 20 }), { maxLength: 3 }),
    sha256Fingerprints: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }),
  });

  it('parseKrl(encodeKrl(krl)) equals krl', () => {
    fc.assert(
      fc.property(krlDocument, (doc) => {
        expect(parseKrl(encodeKrl(doc))).toEqual({ ...doc, signed: false });
      }),
    );
  });

  it('a serial added with addKrlRevocation revokes exactly that serial, not its neighbours', () => {
    const base = cert(1).parsed;
    fc.assert(
      fc.property(fc.bigInt({ min: 2n, max: (1n << 64n) - 2n }), (s) => {
        const krl = encodeKrl(addKrlRevocation(emptyKrl(), { caKey: caBlob, serial: s }, new Date()));
        expect(airlockSaysRevoked(krl, { ...base, serial: s })).toBe(true);
        expect(airlockSaysRevoked(krl, { ...base, serial: s - 1n })).toBe(false);
        expect(airlockSaysRevoked(krl, { ...base, serial: s + 1n })).toBe(false);
      }),
    );
  });
});
