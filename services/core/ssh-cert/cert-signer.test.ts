/**
 * Issuing certificates with airlock and reading them back with OpenSSH
 * (`ssh-keygen -L`), and loading/writing OpenSSH private keys.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeygenKeyType, KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../errors.js';
import { signUserCertificate } from './cert-signer.js';
import { verifyCertificateWithoutSession } from './cert-verifier.js';
import { parseCertificateLine } from './certificate.js';
import { formatOpenSshPrivateKey, generateCaKey, parseOpenSshPrivateKey } from './private-key.js';
import { formatPublicKeyLine, parsePublicKeyLine } from './public-key.js';

let ws: KeygenWorkspace;
beforeAll(() => {
  ws = new KeygenWorkspace();
});
afterAll(() => ws.cleanup());

/** The fields `ssh-keygen -L` prints, parsed from its text output. */
function keygenFields(listing: string) {
  const lines = listing.split('\n').map((l) => l.trim());
  const after = (label: string) =>
    lines
      .find((l) => l.startsWith(label))
      ?.slice(label.length)
      .trim();
  const block = (label: string) => {
    const start = lines.findIndex((l) => l.startsWith(label));
    const out: string[] = [];
    for (
      let i = start + 1;
      i < lines.length && lines[i] !== '' && !/^[A-Z][A-Za-z ]+:/.test(lines[i]!);
      i++
    ) {
      out.push(lines[i]!);
    }
    return out;
  };
  return {
    type: after('Type:'),
    keyId: after('Key ID:'),
    serial: after('Serial:'),
    valid: after('Valid:'),
    signingCa: after('Signing CA:'),
    principals: block('Principals:'),
    critical: block('Critical Options:'),
    extensions: block('Extensions:'),
  };
}

const USER_TYPES: KeygenKeyType[] = ['ed25519', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521', 'rsa'];
const CA_TYPES: KeygenKeyType[] = ['ed25519', 'ecdsa-256', 'rsa'];

describe('signUserCertificate → ssh-keygen -L → parseCertificate round trip', () => {
  for (const caType of CA_TYPES) {
    it(`every user key type with an ssh-keygen ${caType} CA key`, () => {
      const ca = parseOpenSshPrivateKey(ws.makeKey(caType).privateText);
      for (const userType of USER_TYPES) {
        const user = parsePublicKeyLine(ws.makeKey(userType).publicLine).key;
        const signed = signUserCertificate({
          caPrivateKey: ca,
          publicKey: user,
          keyId: `alice@example.com req-1 ${userType}`,
          serial: 18446744073709551615n,
          principals: ['alice', 'oncall'],
          validAfter: new Date('2030-01-01T00:00:00Z'),
          validBefore: new Date('2030-01-01T00:30:00Z'),
          // Given unsorted on purpose: the signer must sort by name.
          criticalOptions: { 'source-address': '10.0.0.0/8,::1/128', 'force-command': 'airlock-shell' },
          extensions: { 'permit-pty': '', 'permit-agent-forwarding': '', 'no-touch-required': '' },
        });
        const listed = keygenFields(ws.listCert(signed.line));
        expect(listed).toEqual({
          type: `${user.type}-cert-v01@openssh.com user certificate`,
          keyId: `"alice@example.com req-1 ${userType}"`,
          serial: '18446744073709551615',
          valid: 'from 2030-01-01T00:00:00 to 2030-01-01T00:30:00',
          signingCa: expect.stringContaining(
            caType === 'rsa' ? '(using rsa-sha2-512)' : `(using ${ca.publicKey.type})`,
          ),
          principals: ['alice', 'oncall'],
          critical: ['force-command airlock-shell', 'source-address 10.0.0.0/8,::1/128'],
          extensions: ['no-touch-required', 'permit-agent-forwarding', 'permit-pty'],
        });
        const { certificate } = parseCertificateLine(signed.line);
        expect(certificate).toMatchObject({
          keyId: `alice@example.com req-1 ${userType}`,
          serial: 18446744073709551615n,
          principals: ['alice', 'oncall'],
          validAfter: 1893456000n,
          validBefore: 1893457800n,
          criticalOptions: { 'force-command': 'airlock-shell', 'source-address': '10.0.0.0/8,::1/128' },
          extensions: { 'no-touch-required': '', 'permit-agent-forwarding': '', 'permit-pty': '' },
        });
        expect(certificate.publicKey.blob).toEqual(user.blob);
        const identity = verifyCertificateWithoutSession(certificate, {
          trustedCAs: [ca.publicKey],
          principal: 'oncall',
          now: new Date('2030-01-01T00:10:00Z'),
          clientAddress: '10.9.8.7',
        });
        expect(identity.forceCommand).toBe('airlock-shell');
      }
    });
  }

  it('chooses a random 64-bit serial and a fresh nonce when none is given', () => {
    const ca = generateCaKey('ed25519');
    const user = generateCaKey('ecdsa-p256').publicKey;
    const request = {
      caPrivateKey: ca,
      publicKey: user,
      keyId: 'k',
      principals: ['a'],
      validAfter: 0n,
      validBefore: 'forever' as const,
    };
    const first = parseCertificateLine(signUserCertificate(request).line).certificate;
    const second = parseCertificateLine(signUserCertificate(request).line).certificate;
    expect(first.serial).not.toBe(second.serial);
    expect(first.nonce).toHaveLength(32);
    expect(first.nonce).not.toEqual(second.nonce);
    expect(keygenFields(ws.listCert(signUserCertificate(request).line)).valid).toBe('forever');
  });

  it('writes the scope extension canonically and refuses invalid requests with USAGE', () => {
    const ca = generateCaKey('ed25519');
    const scope = {
      cluster: 'c',
      namespace: 'ns',
      podPatterns: ['web-*'],
      profile: 'debug',
      requestId: 'r-1',
      groups: [],
    };
    const signed = signUserCertificate({
      caPrivateKey: ca,
      publicKey: ca.publicKey,
      keyId: 'k',
      principals: ['a'],
      validAfter: 0n,
      validBefore: 10n,
      scope,
    });
    expect(keygenFields(ws.listCert(signed.line)).extensions[0]).toMatch(
      /^airlock-scope@airlock.dev UNKNOWN OPTION/,
    );
    const base = { caPrivateKey: ca, publicKey: ca.publicKey, keyId: 'k', validAfter: 0n, validBefore: 10n };
    const usage = (fn: () => unknown) => {
      try {
        fn();
        return 'accepted';
      } catch (error) {
        return error instanceof AirlockError ? error.code : 'other';
      }
    };
    expect(usage(() => signUserCertificate({ ...base, principals: [] }))).toBe('USAGE');
    expect(usage(() => signUserCertificate({ ...base, principals: ['a'], validBefore: 0n }))).toBe('USAGE');
    expect(
      usage(() =>
        signUserCertificate({
          ...base,
          principals: ['a'],
          criticalOptions: { 'source-address': '10.0.0.1/8' },
        }),
      ),
    ).toBe('USAGE');
    expect(
      usage(() => signUserCertificate({ ...base, principals: ['a'], scope: { ...scope, podPatterns: [] } })),
    ).toBe('CERT_SCOPE_INVALID');
  });
});

describe('OpenSSH private keys', () => {
  for (const type of USER_TYPES) {
    it(`loads an ssh-keygen ${type} key and writes one ssh-keygen reads back`, () => {
      const made = ws.makeKey(type);
      const key = parseOpenSshPrivateKey(made.privateText);
      expect(formatPublicKeyLine(key.publicKey)).toBe(made.publicLine.split(' ').slice(0, 2).join(' '));
      expect(key.comment).toBe(made.publicLine.split(' ')[2]);
      const rewritten = ws.path(`rewritten-${type}`);
      writeFileSync(rewritten, formatOpenSshPrivateKey(key.privateKey, 'again'));
      chmodSync(rewritten, 0o600);
      expect(ws.run(['-y', '-f', rewritten]).trim()).toBe(formatPublicKeyLine(key.publicKey, 'again'));
    });
  }

  it('refuses encrypted keys and corrupted files with CERT_MALFORMED', () => {
    const made = ws.makeKey('ed25519');
    ws.run(['-q', '-p', '-N', 'secret', '-P', '', '-f', made.path]);
    const encrypted = readFileSync(made.path, 'utf8');
    expect(() => parseOpenSshPrivateKey(encrypted)).toThrow(/encrypted/);
    expect(() => parseOpenSshPrivateKey('not a key')).toThrow(AirlockError);
    const text = ws.makeKey('ecdsa-256').privateText;
    const lines = text.split('\n');
    lines[3] = lines[3]!.replace(/[A-Za-z]/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(() => parseOpenSshPrivateKey(lines.join('\n'))).toThrow(AirlockError);
  });
});
