/**
 * Revocation: KRLs written by `ssh-keygen -k` (PROTOCOL.krl) and the JSON
 * deny list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeygenWorkspace, sshString, sshUint32 } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../errors.js';
import { certificateBlobFromLine, parseCertificate, type SshCertificate } from './certificate.js';
import { createKrlRevocationList, parseDenyList, parseKrl } from './revocation.js';

let ws: KeygenWorkspace;
let ca: { path: string; publicLine: string };
let otherCa: { path: string; publicLine: string };
let user: { path: string; publicLine: string };
beforeAll(() => {
  ws = new KeygenWorkspace();
  ca = ws.makeKey('ed25519', 'ca');
  otherCa = ws.makeKey('ecdsa-256', 'other-ca');
  user = ws.makeKey('ed25519', 'user');
});
afterAll(() => ws.cleanup());

function cert(serial: number | string, keyId = 'alice', caPath = ca.path): SshCertificate {
  return parseCertificate(
    certificateBlobFromLine(
      ws.signCert(caPath, user.path, [
        '-I',
        keyId,
        '-n',
        'alice',
        '-z',
        String(serial),
        '-V',
        'always:forever',
      ]),
    ),
  );
}

function revokedBy(krlBytes: Uint8Array, certificate: SshCertificate): boolean {
  return createKrlRevocationList(parseKrl(krlBytes)).revocationReason(certificate) !== undefined;
}

describe('KRL from ssh-keygen -k', () => {
  it('serial lists and ranges, scoped to the CA given with -s', () => {
    const krl = ws.makeKrl('serial: 5\nserial: 100-200\n', `${ca.path}.pub`);
    const parsed = parseKrl(krl);
    expect(parsed.certificateSections).toHaveLength(1);
    expect(revokedBy(krl, cert(5))).toBe(true);
    expect(revokedBy(krl, cert(100))).toBe(true);
    expect(revokedBy(krl, cert(150))).toBe(true);
    expect(revokedBy(krl, cert(200))).toBe(true);
    expect(revokedBy(krl, cert(6))).toBe(false);
    expect(revokedBy(krl, cert(201))).toBe(false);
    // Same serial under another CA is not revoked: the section is scoped to its CA.
    expect(revokedBy(krl, cert(5, 'alice', otherCa.path))).toBe(false);
  });

  it('serial bitmaps (ssh-keygen picks a bitmap for dense, non-contiguous serials)', () => {
    const serials = Array.from({ length: 100 }, (_, i) => 1000 + 2 * i);
    const krl = ws.makeKrl(serials.map((s) => `serial: ${s}\n`).join(''), `${ca.path}.pub`);
    const section = parseKrl(krl).certificateSections[0]!;
    expect(section.serialBitmaps.length).toBeGreaterThan(0);
    expect(revokedBy(krl, cert(1000))).toBe(true);
    expect(revokedBy(krl, cert(1198))).toBe(true);
    expect(revokedBy(krl, cert(1001))).toBe(false);
    expect(revokedBy(krl, cert(1200))).toBe(false);
    expect(revokedBy(krl, cert(999))).toBe(false);
  });

  it('never revokes serial 0 by serial, as OpenSSH', () => {
    const krl = ws.makeKrl('serial: 1-10\n', `${ca.path}.pub`);
    expect(revokedBy(krl, cert(0))).toBe(false);
  });

  it('key ids under a CA', () => {
    const krl = ws.makeKrl('id: mallory\n', `${ca.path}.pub`);
    expect(parseKrl(krl).certificateSections[0]!.keyIds).toEqual(['mallory']);
    expect(revokedBy(krl, cert(1, 'mallory'))).toBe(true);
    expect(revokedBy(krl, cert(1, 'alice'))).toBe(false);
    expect(revokedBy(krl, cert(1, 'mallory', otherCa.path))).toBe(false);
  });

  it('explicit keys, SHA1 and SHA256 hashes of the user key, and the CA key itself', () => {
    const byKey = ws.makeKrl(`key: ${user.publicLine}\n`);
    expect(parseKrl(byKey).explicitKeys).toHaveLength(1);
    expect(revokedBy(byKey, cert(1))).toBe(true);
    const bySha1 = ws.makeKrl(`sha1: ${user.publicLine}\n`);
    expect(parseKrl(bySha1).sha1Fingerprints).toHaveLength(1);
    expect(revokedBy(bySha1, cert(1))).toBe(true);
    const bySha256 = ws.makeKrl(`sha256: ${user.publicLine}\n`);
    expect(parseKrl(bySha256).sha256Fingerprints).toHaveLength(1);
    expect(revokedBy(bySha256, cert(1))).toBe(true);
    const fingerprint = ws.run(['-l', '-E', 'sha256', '-f', `${user.path}.pub`]).split(' ')[1]!;
    const byHash = ws.makeKrl(`hash: ${fingerprint}\n`);
    expect(revokedBy(byHash, cert(1))).toBe(true);
    const caRevoked = ws.makeKrl(`key: ${ca.publicLine}\n`);
    expect(revokedBy(caRevoked, cert(1))).toBe(true);
    expect(revokedBy(caRevoked, cert(1, 'alice', otherCa.path))).toBe(false);
  });

  it('an empty KRL revokes nothing', () => {
    const krl = ws.makeKrl('');
    expect(parseKrl(krl).certificateSections).toEqual([]);
    expect(revokedBy(krl, cert(1))).toBe(false);
  });

  it('a certificate section with an empty CA key applies to every CA (hand-built, ssh-keygen cannot write one)', () => {
    const header = Buffer.concat([
      Buffer.from('SSHKRL\n\0', 'latin1'),
      sshUint32(1),
      Buffer.alloc(8), // krl version
      Buffer.alloc(8), // generated date
      Buffer.alloc(8), // flags
      sshString(''), // reserved
      sshString('wildcard'),
    ]);
    const keyIds = Buffer.concat([Buffer.of(0x23), sshString(sshString('mallory'))]);
    const section = Buffer.concat([sshString(''), sshString(''), keyIds]);
    const krl = Buffer.concat([header, Buffer.of(1), sshString(section)]);
    expect(parseKrl(krl).comment).toBe('wildcard');
    expect(revokedBy(krl, cert(1, 'mallory'))).toBe(true);
    expect(revokedBy(krl, cert(1, 'mallory', otherCa.path))).toBe(true);
    expect(revokedBy(krl, cert(1, 'alice'))).toBe(false);
  });

  it('every truncation of a real KRL is CERT_MALFORMED, as are bad magic and unknown sections', () => {
    const krl = ws.makeKrl('serial: 5\nid: x\n', `${ca.path}.pub`);
    for (let length = 0; length < krl.length; length++) {
      try {
        parseKrl(krl.subarray(0, length));
        // A cut exactly at a section boundary is a valid, shorter KRL.
      } catch (error) {
        expect(error).toBeInstanceOf(AirlockError);
        expect((error as AirlockError).code).toBe('CERT_MALFORMED');
      }
    }
    expect(() => parseKrl(Buffer.from('not a krl at all, really'))).toThrow(/magic/);
    expect(() => parseKrl(Buffer.concat([krl, Buffer.of(9), sshString('')]))).toThrow(/unknown section/);
  });
});

describe('JSON deny list', () => {
  it('revokes by serial, key id and SHA256 fingerprint of the user or CA key', () => {
    const userFp = ws.run(['-l', '-E', 'sha256', '-f', `${user.path}.pub`]).split(' ')[1]!;
    const caFp = ws.run(['-l', '-E', 'sha256', '-f', `${ca.path}.pub`]).split(' ')[1]!;
    const reason = (doc: unknown, c: SshCertificate) =>
      parseDenyList(JSON.stringify(doc)).revocationReason(c);
    expect(reason({ serials: ['18446744073709551615'] }, cert('18446744073709551615'))).toMatch(/serial/);
    expect(reason({ serials: [7] }, cert(7))).toMatch(/serial/);
    expect(reason({ keyIds: ['bob'] }, cert(1, 'bob'))).toMatch(/key id/);
    expect(reason({ fingerprints: [userFp] }, cert(1))).toMatch(/key revoked/);
    expect(reason({ fingerprints: [caFp] }, cert(1))).toMatch(/CA key/);
    expect(reason({ serials: [8], keyIds: ['x'], fingerprints: [] }, cert(7))).toBeUndefined();
  });

  it('refuses malformed deny lists instead of silently revoking nothing', () => {
    for (const bad of [
      '[]',
      '{"serial": [1]}',
      '{"serials": [-1]}',
      '{"serials": ["18446744073709551616"]}',
      '{"fingerprints": ["MD5:aa"]}',
      '{"keyIds": [1]}',
      'nope',
    ]) {
      expect(() => parseDenyList(bad), bad).toThrow(AirlockError);
    }
  });
});
