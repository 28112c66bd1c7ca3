/**
 * Security-key (FIDO) certificates: sk-ssh-ed25519@openssh.com and
 * sk-ecdsa-sha2-nistp256@openssh.com.
 *
 * ssh-keygen cannot create sk keys without an authenticator, so the vectors
 * are built here, independently of the code under test, byte by byte from
 * PROTOCOL.u2f:
 *
 *  1. a software ed25519 / P-256 key pair stands in for the authenticator;
 *  2. its public key is written as an OpenSSH sk public key
 *     (`string type, [string curve,] string key, string application`) with
 *     the test-side encoder, and `ssh-keygen -s` certifies that file;
 *  3. the "authenticator signature" is made with node crypto over
 *     `sha256(application) || byte flags || uint32 counter || sha256(data)`
 *     (ECDSA hashes that again with SHA-256, as a U2F token does), framed as
 *     `string algorithm, string signature, byte flags, uint32 counter`.
 */
import { createHash, sign as cryptoSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeygenWorkspace,
  sshMpint,
  sshString,
  sshUint32,
} from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { codeOf } from '../errors-test-support.js';
import { signUserCertificate } from './cert-signer.js';
import { verifyUserCertificate } from './cert-verifier.js';
import { certificateBlobFromLine, parseCertificateLine } from './certificate.js';
import { parseOpenSshPrivateKey } from './private-key.js';
import { parsePublicKeyLine, type SshPublicKey } from './public-key.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const WINDOW = '20300101000000:20300102000000';
const APPLICATION = 'ssh:';
const DATA = Buffer.from('userauth request bytes');

interface SoftToken {
  readonly type: 'sk-ssh-ed25519@openssh.com' | 'sk-ecdsa-sha2-nistp256@openssh.com';
  readonly privateKey: KeyObject;
  readonly publicLine: string;
}

function makeToken(kind: 'ed25519' | 'ecdsa'): SoftToken {
  if (kind === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const type = 'sk-ssh-ed25519@openssh.com';
    const blob = Buffer.concat([sshString(type), sshString(raw), sshString(APPLICATION)]);
    return { type, privateKey, publicLine: `${type} ${blob.toString('base64')} token` };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const point = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65); // uncompressed 0x04||X||Y
  const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
  const blob = Buffer.concat([
    sshString(type),
    sshString('nistp256'),
    sshString(point),
    sshString(APPLICATION),
  ]);
  return { type, privateKey, publicLine: `${type} ${blob.toString('base64')} token` };
}

/** PROTOCOL.u2f "SSH U2F signatures", built by hand. */
function tokenSign(token: SoftToken, data: Uint8Array, flags: number, counter: number): Buffer {
  const signed = Buffer.concat([
    createHash('sha256').update(APPLICATION).digest(),
    Buffer.of(flags),
    sshUint32(counter),
    createHash('sha256').update(data).digest(),
  ]);
  let inner: Buffer;
  if (token.type === 'sk-ssh-ed25519@openssh.com') {
    inner = cryptoSign(null, signed, token.privateKey);
  } else {
    const p1363 = cryptoSign('sha256', signed, { key: token.privateKey, dsaEncoding: 'ieee-p1363' });
    inner = Buffer.concat([sshMpint(p1363.subarray(0, 32)), sshMpint(p1363.subarray(32))]);
  }
  return Buffer.concat([sshString(token.type), sshString(inner), Buffer.of(flags), sshUint32(counter)]);
}

let ws: KeygenWorkspace;
let caPath: string;
let caKey: SshPublicKey;
beforeAll(() => {
  ws = new KeygenWorkspace();
  const ca = ws.makeKey('ed25519', 'ca');
  caPath = ca.path;
  caKey = parsePublicKeyLine(ca.publicLine).key;
});
afterAll(() => ws.cleanup());

function certify(token: SoftToken, extra: string[] = []): Uint8Array {
  const base = ws.writePublicKey(token.publicLine);
  return certificateBlobFromLine(
    ws.signCert(caPath, base, ['-I', 'sk-user', '-n', 'alice', '-V', WINDOW, ...extra]),
  );
}

function verify(cert: Uint8Array, signature: Uint8Array) {
  return verifyUserCertificate(cert, signature, DATA, { trustedCAs: [caKey], principal: 'alice', now: NOW });
}

for (const kind of ['ed25519', 'ecdsa'] as const) {
  describe(`${kind} security key`, () => {
    it('parses the ssh-keygen certificate and accepts a touched signature', () => {
      const token = makeToken(kind);
      const cert = certify(token);
      const { certificate } = parseCertificateLine(
        `${kind === 'ed25519' ? 'sk-ssh-ed25519' : 'sk-ecdsa-sha2-nistp256'}-cert-v01@openssh.com ${Buffer.from(cert).toString('base64')}`,
      );
      expect(certificate.publicKey.type).toBe(token.type);
      expect(certificate.publicKey.blob).toEqual(parsePublicKeyLine(token.publicLine).key.blob);
      expect(verify(cert, tokenSign(token, DATA, 0x01, 7)).keyId).toBe('sk-user');
    });

    it('requires the user-presence flag unless no-touch-required is set', () => {
      const token = makeToken(kind);
      expect(codeOf(() => verify(certify(token), tokenSign(token, DATA, 0x00, 1)))).toBe(
        'CERT_BAD_SIGNATURE',
      );
      const relaxed = certify(token, ['-O', 'no-touch-required']);
      expect(verify(relaxed, tokenSign(token, DATA, 0x00, 1)).extensions['no-touch-required']).toBe('');
    });

    it('requires user verification (flag 0x04) under verify-required', () => {
      const token = makeToken(kind);
      const cert = certify(token, ['-O', 'verify-required']);
      expect(codeOf(() => verify(cert, tokenSign(token, DATA, 0x01, 1)))).toBe('CERT_BAD_SIGNATURE');
      expect(codeOf(() => verify(cert, tokenSign(token, DATA, 0x05, 1)))).toBe('accepted');
    });

    it('refuses a signature whose flags or counter were changed after signing, or by another token', () => {
      const token = makeToken(kind);
      const cert = certify(token);
      const signature = tokenSign(token, DATA, 0x01, 9);
      const flagsChanged = Buffer.from(signature);
      flagsChanged[flagsChanged.length - 5] = 0x05;
      expect(codeOf(() => verify(cert, flagsChanged))).toBe('CERT_BAD_SIGNATURE');
      const counterChanged = Buffer.from(signature);
      counterChanged[counterChanged.length - 1] = 10;
      expect(codeOf(() => verify(cert, counterChanged))).toBe('CERT_BAD_SIGNATURE');
      expect(codeOf(() => verify(cert, tokenSign(makeToken(kind), DATA, 0x01, 9)))).toBe(
        'CERT_BAD_SIGNATURE',
      );
    });

    it('airlock can certify the sk key, and ssh-keygen -L reads the result', () => {
      const token = makeToken(kind);
      const ca = parseOpenSshPrivateKey(ws.makeKey('ecdsa-256').privateText);
      const signed = signUserCertificate({
        caPrivateKey: ca,
        publicKey: parsePublicKeyLine(token.publicLine).key,
        keyId: 'airlock-sk',
        principals: ['alice'],
        validAfter: new Date('2030-01-01T00:00:00Z'),
        validBefore: new Date('2030-01-02T00:00:00Z'),
        extensions: { 'permit-pty': '' },
      });
      expect(ws.listCert(signed.line)).toContain(
        `Type: ${token.type.replace('@openssh.com', '')}-cert-v01@openssh.com user certificate`,
      );
      const identity = verifyUserCertificate(signed.blob, tokenSign(token, DATA, 0x01, 1), DATA, {
        trustedCAs: [ca.publicKey],
        principal: 'alice',
        now: NOW,
      });
      expect(identity.keyId).toBe('airlock-sk');
    });
  });
}
