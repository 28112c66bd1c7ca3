/**
 * Verification against certificates made by the real `ssh-keygen -s`:
 * the interop matrix (every user key type × every CA type) and session
 * signatures produced by OpenSSH (`ssh-keygen -Y sign`) and by node crypto.
 * One test per refusal code: cert-verifier-refusals.test.ts.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type KeygenKeyType,
  sshMpint,
  sshString,
} from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { verifyUserCertificate } from './cert-verifier.js';
import {
  caEcdsa,
  caEd25519,
  caRsa,
  codeOf,
  keygenFingerprint,
  options,
  USER_TYPES,
  useKeygenFixture,
  user,
  WINDOW,
  ws,
} from './cert-verifier-test-support.js';
import { certificateBlobFromLine, parseCertificateLine } from './certificate.js';
import { parseOpenSshPrivateKey } from './private-key.js';
import { parsePublicKeyLine } from './public-key.js';

useKeygenFixture();

describe('interop matrix: ssh-keygen -s certificates are parsed and verified', () => {
  const cas = [
    { name: 'ed25519 CA', get: () => caEd25519, extra: [] as string[] },
    { name: 'ecdsa-p256 CA', get: () => caEcdsa, extra: [] as string[] },
    { name: 'rsa CA (rsa-sha2-512)', get: () => caRsa, extra: ['-t', 'rsa-sha2-512'] },
  ];
  for (const ca of cas) {
    for (const type of USER_TYPES) {
      it(`${type} user key, ${ca.name}`, () => {
        const { path } = ca.get();
        const line = ws.signCert(path, user(type).path, [
          ...ca.extra,
          '-I',
          `matrix-${type}`,
          '-n',
          'alice,bob',
          '-z',
          '4242',
          '-V',
          WINDOW,
        ]);
        const { certificate } = parseCertificateLine(line);
        expect(certificate.type).toBe('user');
        expect(certificate.principals).toEqual(['alice', 'bob']);
        expect(certificate.publicKey.blob).toEqual(parsePublicKeyLine(user(type).publicLine).key.blob);

        // The session signature comes from OpenSSH itself (ssh-keygen -Y sign, SSHSIG framing).
        const { signature, signedData } = ws.sshsig(user(type).path, Buffer.from('session data'));
        const identity = verifyUserCertificate(certificate.blob, signature, signedData, {
          ...options(),
          trustedCAs: [caEd25519.key, caEcdsa.key, caRsa.key],
          principal: 'bob',
        });
        expect(identity).toMatchObject({
          principal: 'bob',
          keyId: `matrix-${type}`,
          serial: 4242n,
          caFingerprint: keygenFingerprint(`${path}.pub`),
          keyFingerprint: keygenFingerprint(`${user(type).path}.pub`),
          validAfter: BigInt(Date.parse('2030-01-01T00:00:00Z') / 1000),
          validBefore: BigInt(Date.parse('2030-01-02T00:00:00Z') / 1000),
          forceCommand: undefined,
          scope: undefined,
        });
        expect(Object.keys(identity.extensions)).toEqual([
          'permit-X11-forwarding',
          'permit-agent-forwarding',
          'permit-port-forwarding',
          'permit-pty',
          'permit-user-rc',
        ]);
      });
    }
  }
});

describe('session signatures', () => {
  const data = Buffer.from('ssh-userauth session identifier and request');

  function pkcs8Of(type: KeygenKeyType) {
    // Convert a copy of the ssh-keygen key to PKCS#8 with ssh-keygen itself, so node crypto signs independently.
    const copy = ws.path(`pkcs8-${type}`);
    writeFileSync(copy, user(type).privateText, { mode: 0o600 });
    ws.run(['-q', '-p', '-m', 'PKCS8', '-N', '', '-f', copy]);
    return createPrivateKey(readFileSync(copy, 'utf8'));
  }

  function certLine(type: KeygenKeyType): Uint8Array {
    return certificateBlobFromLine(
      ws.signCert(caEd25519.path, user(type).path, ['-I', `s-${type}`, '-n', 'alice', '-V', WINDOW]),
    );
  }

  /** Signs the ed25519 user key with `args`, and verifies its own ssh-keygen signature of `data` with it. */
  function ownSignatureVerdict(args: string[]) {
    const cert = certificateBlobFromLine(ws.signCert(caEd25519.path, user('ed25519').path, args));
    const own = ws.sshsig(user('ed25519').path, data);
    return codeOf(() => verifyUserCertificate(cert, own.signature, own.signedData, options()));
  }

  it('accepts ECDSA signatures made by node crypto with the PKCS#8 export of the key', () => {
    for (const [type, hash] of [
      ['ecdsa-256', 'sha256'],
      ['ecdsa-384', 'sha384'],
      ['ecdsa-521', 'sha512'],
    ] as const) {
      const key = pkcs8Of(type);
      const p1363 = cryptoSign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
      const half = p1363.length / 2;
      const inner = Buffer.concat([sshMpint(p1363.subarray(0, half)), sshMpint(p1363.subarray(half))]);
      const name = `ecdsa-sha2-nistp${type.slice(6)}`;
      const signature = Buffer.concat([sshString(name), sshString(inner)]);
      expect(verifyUserCertificate(certLine(type), signature, data, options()).keyId).toBe(`s-${type}`);
    }
  });

  it('accepts rsa-sha2-256 and rsa-sha2-512 and refuses ssh-rsa (SHA-1) session signatures', () => {
    const key = pkcs8Of('rsa');
    const cert = certLine('rsa');
    for (const [name, hash] of [
      ['rsa-sha2-256', 'sha256'],
      ['rsa-sha2-512', 'sha512'],
    ] as const) {
      const signature = Buffer.concat([sshString(name), sshString(cryptoSign(hash, data, key))]);
      expect(verifyUserCertificate(cert, signature, data, options()).keyId).toBe('s-rsa');
    }
    const sha1 = Buffer.concat([sshString('ssh-rsa'), sshString(cryptoSign('sha1', data, key))]);
    expect(codeOf(() => verifyUserCertificate(cert, sha1, data, options()))).toBe('CERT_BAD_SIGNATURE');
    // A sha512 signature labelled rsa-sha2-256 is an algorithm mismatch.
    const mislabelled = Buffer.concat([
      sshString('rsa-sha2-256'),
      sshString(cryptoSign('sha512', data, key)),
    ]);
    expect(codeOf(() => verifyUserCertificate(cert, mislabelled, data, options()))).toBe(
      'CERT_BAD_SIGNATURE',
    );
  });

  it('accepts ed25519 signatures made with the key loaded by parseOpenSshPrivateKey', () => {
    const key = parseOpenSshPrivateKey(user('ed25519').privateText);
    const signature = Buffer.concat([
      sshString('ssh-ed25519'),
      sshString(cryptoSign(null, data, key.privateKey)),
    ]);
    expect(verifyUserCertificate(certLine('ed25519'), signature, data, options()).keyId).toBe('s-ed25519');
  });

  it('CERT_BAD_SIGNATURE: another key, other data, or the wrong algorithm name', () => {
    const cert = certLine('ed25519');
    const other = ws.sshsig(user('ecdsa-256').path, data);
    expect(codeOf(() => verifyUserCertificate(cert, other.signature, other.signedData, options()))).toBe(
      'CERT_BAD_SIGNATURE',
    );
    const own = ws.sshsig(user('ed25519').path, data);
    expect(
      codeOf(() => verifyUserCertificate(cert, own.signature, Buffer.from('other data'), options())),
    ).toBe('CERT_BAD_SIGNATURE');
    const key = parseOpenSshPrivateKey(user('ed25519').privateText);
    const renamed = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString(cryptoSign(null, data, key.privateKey)),
    ]);
    expect(codeOf(() => verifyUserCertificate(cert, renamed, data, options()))).toBe('CERT_BAD_SIGNATURE');
  });

  it('checks the certificate before the session signature', () => {
    expect(ownSignatureVerdict(['-I', 'x', '-n', 'alice', '-V', '20200101:20200102'])).toBe('CERT_EXPIRED');
  });

  it('refuses verify-required for keys that are not security keys', () => {
    expect(ownSignatureVerdict(['-I', 'x', '-n', 'alice', '-V', WINDOW, '-O', 'verify-required'])).toBe(
      'CERT_BAD_SIGNATURE',
    );
  });
});
