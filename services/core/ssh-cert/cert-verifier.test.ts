/**
 * Verification against certificates made by the real `ssh-keygen -s`:
 * the interop matrix (every user key type × every CA type), one test per
 * refusal code, and session signatures produced by OpenSSH (`ssh-keygen -Y
 * sign`) and by node crypto.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KeygenKeyType,
  KeygenWorkspace,
  sshMpint,
  sshString,
} from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError, type ErrorCode } from '../errors.js';
import {
  type VerifyCertificateOptions,
  verifyCertificateWithoutSession,
  verifyUserCertificate,
} from './cert-verifier.js';
import { certificateBlobFromLine, parseCertificate, parseCertificateLine } from './certificate.js';
import { parseOpenSshPrivateKey } from './private-key.js';
import { parsePublicKeyLine, type SshPublicKey } from './public-key.js';
import { createKrlRevocationList, parseDenyList, parseKrl } from './revocation.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const WINDOW = '20300101000000:20300102000000';

let ws: KeygenWorkspace;
const userKeys = new Map<KeygenKeyType, { path: string; publicLine: string; privateText: string }>();
let caEd25519: { path: string; publicLine: string; key: SshPublicKey };
let caEcdsa: { path: string; publicLine: string; key: SshPublicKey };
let caRsa: { path: string; publicLine: string; key: SshPublicKey };

const USER_TYPES: KeygenKeyType[] = ['ed25519', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521', 'rsa'];

function makeCa(type: KeygenKeyType, name: string) {
  const made = ws.makeKey(type, name);
  return { ...made, key: parsePublicKeyLine(made.publicLine).key };
}

beforeAll(() => {
  ws = new KeygenWorkspace();
  for (const type of USER_TYPES) userKeys.set(type, ws.makeKey(type, `user-${type}`));
  caEd25519 = makeCa('ed25519', 'ca-ed25519');
  caEcdsa = makeCa('ecdsa-256', 'ca-ecdsa');
  caRsa = makeCa('rsa', 'ca-rsa');
});
afterAll(() => ws.cleanup());

function user(type: KeygenKeyType) {
  return userKeys.get(type)!;
}

/** Signs the ed25519 user key with the ed25519 CA plus extra ssh-keygen args. */
function certFor(args: string[], opts: { userType?: KeygenKeyType; caPath?: string } = {}): Uint8Array {
  const base = user(opts.userType ?? 'ed25519').path;
  return certificateBlobFromLine(ws.signCert(opts.caPath ?? caEd25519.path, base, args));
}

function options(overrides: Partial<VerifyCertificateOptions> = {}): VerifyCertificateOptions {
  return { trustedCAs: [caEd25519.key], principal: 'alice', now: NOW, ...overrides };
}

function codeOf(fn: () => unknown): ErrorCode | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    if (error instanceof AirlockError) return error.code;
    throw error;
  }
}

function keygenFingerprint(publicPath: string): string {
  return ws.run(['-l', '-E', 'sha256', '-f', publicPath]).split(' ')[1]!;
}

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

describe('refusals, one per code, made with ssh-keygen options', () => {
  it('CERT_MALFORMED: truncated blob and trailing bytes', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW]);
    expect(codeOf(() => verifyCertificateWithoutSession(blob.subarray(0, blob.length - 1), options()))).toBe(
      'CERT_MALFORMED',
    );
    const longer = new Uint8Array([...blob, 0]);
    expect(codeOf(() => verifyCertificateWithoutSession(longer, options()))).toBe('CERT_MALFORMED');
  });

  it('CERT_UNTRUSTED_CA: signed by a CA not in the trusted set', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW], { caPath: caEcdsa.path });
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options()))).toBe('CERT_UNTRUSTED_CA');
  });

  it('accepts either CA of a rotation set', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW], { caPath: caEcdsa.path });
    const identity = verifyCertificateWithoutSession(
      blob,
      options({ trustedCAs: [caEd25519.key, caEcdsa.key] }),
    );
    expect(identity.caFingerprint).toBe(keygenFingerprint(`${caEcdsa.path}.pub`));
  });

  it('CERT_BAD_CA_SIGNATURE: a body byte changed after signing', () => {
    const blob = certFor(['-I', 'id-x', '-n', 'alice', '-V', WINDOW]);
    const tampered = Uint8Array.from(blob);
    const at = Buffer.from(tampered).indexOf('id-x');
    tampered[at + 3] = 'y'.charCodeAt(0);
    expect(codeOf(() => verifyCertificateWithoutSession(tampered, options()))).toBe('CERT_BAD_CA_SIGNATURE');
  });

  it('CERT_BAD_CA_SIGNATURE: plain ssh-rsa (SHA-1) CA signatures are refused', () => {
    const blob = certFor(['-t', 'ssh-rsa', '-I', 'id', '-n', 'alice', '-V', WINDOW], { caPath: caRsa.path });
    expect(parseCertificate(blob).signature).toBeDefined();
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ trustedCAs: [caRsa.key] })))).toBe(
      'CERT_BAD_CA_SIGNATURE',
    );
  });

  it('accepts rsa-sha2-256 CA signatures', () => {
    const blob = certFor(['-t', 'rsa-sha2-256', '-I', 'id', '-n', 'alice', '-V', WINDOW], {
      caPath: caRsa.path,
    });
    expect(verifyCertificateWithoutSession(blob, options({ trustedCAs: [caRsa.key] })).keyId).toBe('id');
  });

  it('CERT_NOT_USER: a host certificate (-h)', () => {
    const blob = certFor(['-h', '-I', 'host', '-n', 'alice', '-V', WINDOW]);
    expect(parseCertificate(blob).type).toBe('host');
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options()))).toBe('CERT_NOT_USER');
  });

  it('CERT_NOT_YET_VALID and CERT_EXPIRED at the window edges, with 30 s default skew', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW]);
    const at = (iso: string, skewSeconds?: number) =>
      codeOf(() => verifyCertificateWithoutSession(blob, options({ now: new Date(iso), skewSeconds })));
    expect(at('2029-12-31T23:59:29Z')).toBe('CERT_NOT_YET_VALID');
    expect(at('2029-12-31T23:59:30Z')).toBe('accepted');
    expect(at('2029-12-31T23:59:59Z', 0)).toBe('CERT_NOT_YET_VALID');
    expect(at('2030-01-01T00:00:00Z', 0)).toBe('accepted');
    // valid_before is exclusive (sshkey_cert_check_authority: now >= valid_before is expired).
    expect(at('2030-01-01T23:59:59Z', 0)).toBe('accepted');
    expect(at('2030-01-02T00:00:00Z', 0)).toBe('CERT_EXPIRED');
    expect(at('2030-01-02T00:00:29Z')).toBe('accepted');
    expect(at('2030-01-02T00:00:30Z')).toBe('CERT_EXPIRED');
  });

  it('refuses a non-integer skew or an invalid clock reading as USAGE (a caller bug, not a verdict)', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW]);
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ skewSeconds: Number.NaN })))).toBe(
      'USAGE',
    );
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ skewSeconds: -1 })))).toBe('USAGE');
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ now: new Date('garbage') })))).toBe(
      'USAGE',
    );
  });

  it('valid_before 2^64-1 ("forever") never expires', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', 'always:forever']);
    const identity = verifyCertificateWithoutSession(
      blob,
      options({ now: new Date('2999-01-01T00:00:00Z') }),
    );
    expect(identity.validBefore).toBeNull();
    expect(identity.validAfter).toBe(0n);
  });

  it('CERT_PRINCIPAL_MISMATCH: principal not listed, and an empty principal list', () => {
    expect(
      codeOf(() =>
        verifyCertificateWithoutSession(certFor(['-I', 'id', '-n', 'bob', '-V', WINDOW]), options()),
      ),
    ).toBe('CERT_PRINCIPAL_MISMATCH');
    const empty = certFor(['-I', 'id', '-V', WINDOW]);
    expect(parseCertificate(empty).principals).toEqual([]);
    expect(codeOf(() => verifyCertificateWithoutSession(empty, options()))).toBe('CERT_PRINCIPAL_MISMATCH');
  });

  it('CERT_SOURCE_ADDRESS: source-address CIDR lists for IPv4, IPv6 and IPv4-mapped clients', () => {
    const blob = certFor([
      '-I',
      'id',
      '-n',
      'alice',
      '-V',
      WINDOW,
      '-O',
      'source-address=10.0.0.0/8,2001:db8::/32',
    ]);
    const from = (clientAddress?: string) =>
      codeOf(() => verifyCertificateWithoutSession(blob, options({ clientAddress })));
    expect(from('10.1.2.3')).toBe('accepted');
    expect(from('::ffff:10.1.2.3')).toBe('accepted');
    expect(from('2001:db8:1::7')).toBe('accepted');
    expect(from('192.168.1.1')).toBe('CERT_SOURCE_ADDRESS');
    expect(from('2001:db9::1')).toBe('CERT_SOURCE_ADDRESS');
    expect(from('::ffff:192.168.1.1')).toBe('CERT_SOURCE_ADDRESS');
    expect(from(undefined)).toBe('CERT_SOURCE_ADDRESS');
    expect(from('not-an-ip')).toBe('CERT_SOURCE_ADDRESS');
  });

  it('CERT_UNKNOWN_CRITICAL_OPTION: -O critical:foo=bar', () => {
    const blob = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW, '-O', 'critical:foo=bar']);
    expect(parseCertificate(blob).criticalOptions).toEqual({ foo: 'bar' });
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options()))).toBe(
      'CERT_UNKNOWN_CRITICAL_OPTION',
    );
  });

  it('returns force-command and exactly the extensions present', () => {
    const blob = certFor([
      '-I',
      'id',
      '-n',
      'alice',
      '-V',
      WINDOW,
      '-O',
      'clear',
      '-O',
      'permit-pty',
      '-O',
      'permit-port-forwarding',
      '-O',
      'force-command=kubectl get pods',
    ]);
    const identity = verifyCertificateWithoutSession(blob, options());
    expect(identity.forceCommand).toBe('kubectl get pods');
    expect(identity.extensions).toEqual({ 'permit-port-forwarding': '', 'permit-pty': '' });
  });

  it('CERT_REVOKED: by serial in a KRL from ssh-keygen -k -s, and by a JSON deny list', () => {
    const blob = certFor(['-I', 'revoke-me', '-n', 'alice', '-z', '77', '-V', WINDOW]);
    const krl = createKrlRevocationList(parseKrl(ws.makeKrl('serial: 70-80\n', `${caEd25519.path}.pub`)));
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ revocation: krl })))).toBe(
      'CERT_REVOKED',
    );
    const deny = parseDenyList(JSON.stringify({ keyIds: ['revoke-me'] }));
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ revocation: [deny] })))).toBe(
      'CERT_REVOKED',
    );
    const other = parseDenyList(JSON.stringify({ serials: ['78'] }));
    expect(codeOf(() => verifyCertificateWithoutSession(blob, options({ revocation: other })))).toBe(
      'accepted',
    );
  });

  it('CERT_SCOPE_INVALID: a scope extension that is not the strict schema', () => {
    const scope = {
      cluster: 'prod-eu',
      namespace: 'payments',
      podPatterns: ['api-*'],
      profile: 'read-only',
      requestId: 'req-123',
      groups: ['jit:debug'],
    };
    const good = certFor([
      '-I',
      'id',
      '-n',
      'alice',
      '-V',
      WINDOW,
      '-O',
      `extension:airlock-scope@airlock.dev=${JSON.stringify(scope)}`,
    ]);
    expect(verifyCertificateWithoutSession(good, options()).scope).toEqual(scope);
    for (const bad of [
      '{not json',
      JSON.stringify({ ...scope, extra: 1 }),
      JSON.stringify({ ...scope, podPatterns: [] }),
      JSON.stringify({ ...scope, namespace: 'Not_A_Label' }),
      JSON.stringify({ ...scope, groups: 'jit:debug' }),
    ]) {
      const blob = certFor([
        '-I',
        'id',
        '-n',
        'alice',
        '-V',
        WINDOW,
        '-O',
        `extension:airlock-scope@airlock.dev=${bad}`,
      ]);
      expect(codeOf(() => verifyCertificateWithoutSession(blob, options()))).toBe('CERT_SCOPE_INVALID');
    }
    const flag = certFor([
      '-I',
      'id',
      '-n',
      'alice',
      '-V',
      WINDOW,
      '-O',
      'extension:airlock-scope@airlock.dev',
    ]);
    expect(codeOf(() => verifyCertificateWithoutSession(flag, options()))).toBe('CERT_SCOPE_INVALID');
    const none = certFor(['-I', 'id', '-n', 'alice', '-V', WINDOW]);
    expect(codeOf(() => verifyCertificateWithoutSession(none, options({ requireScope: true })))).toBe(
      'CERT_SCOPE_INVALID',
    );
  });
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
    const cert = certificateBlobFromLine(
      ws.signCert(caEd25519.path, user('ed25519').path, [
        '-I',
        'x',
        '-n',
        'alice',
        '-V',
        '20200101:20200102',
      ]),
    );
    const own = ws.sshsig(user('ed25519').path, data);
    expect(codeOf(() => verifyUserCertificate(cert, own.signature, own.signedData, options()))).toBe(
      'CERT_EXPIRED',
    );
  });

  it('refuses verify-required for keys that are not security keys', () => {
    const cert = certificateBlobFromLine(
      ws.signCert(caEd25519.path, user('ed25519').path, [
        '-I',
        'x',
        '-n',
        'alice',
        '-V',
        WINDOW,
        '-O',
        'verify-required',
      ]),
    );
    const own = ws.sshsig(user('ed25519').path, data);
    expect(codeOf(() => verifyUserCertificate(cert, own.signature, own.signedData, options()))).toBe(
      'CERT_BAD_SIGNATURE',
    );
  });
});
