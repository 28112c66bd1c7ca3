/**
 * Structural parsing of certificates built by hand with the test-side RFC 4251
 * encoder (independent of the code under test), for the defects ssh-keygen
 * never produces: unsorted or duplicate options, bad type codes, odd key
 * encodings. Each one must be CERT_MALFORMED; the well-formed baseline must
 * parse and verify.
 */
import { createHash, sign as cryptoSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sshMpint, sshString, sshUint32 } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../errors.js';
import { verifyCertificateWithoutSession } from './cert-verifier.js';
import { parseCertificate, parseCertificateLine } from './certificate.js';
import { parsePublicKeyBlob } from './public-key.js';

const u64 = (value: bigint) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(value);
  return out;
};

function ed25519Raw(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
}

const ca = generateKeyPairSync('ed25519');
const caBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(ed25519Raw(ca.publicKey))]);
const userKey = generateKeyPairSync('ed25519').publicKey;

interface Parts {
  certType: string;
  keyFields: Buffer;
  serial: bigint;
  type: number;
  keyId: Buffer | string;
  principals: Buffer;
  criticalOptions: Buffer;
  extensions: Buffer;
  signatureKey: Buffer;
  trailing: Buffer;
}

const option = (name: string, value?: string) =>
  Buffer.concat([sshString(name), sshString(value === undefined ? '' : sshString(value))]);

function build(overrides: Partial<Parts> = {}): Buffer {
  const p: Parts = {
    certType: 'ssh-ed25519-cert-v01@openssh.com',
    keyFields: sshString(ed25519Raw(userKey)),
    serial: 7n,
    type: 1,
    keyId: 'hand-built',
    principals: Buffer.concat([sshString('alice')]),
    criticalOptions: Buffer.concat([option('force-command', 'id'), option('source-address', '127.0.0.1/32')]),
    extensions: Buffer.concat([option('permit-port-forwarding'), option('permit-pty')]),
    signatureKey: caBlob,
    trailing: Buffer.alloc(0),
    ...overrides,
  };
  const body = Buffer.concat([
    sshString(p.certType),
    sshString(Buffer.alloc(32, 1)),
    p.keyFields,
    u64(p.serial),
    sshUint32(p.type),
    sshString(p.keyId),
    sshString(p.principals),
    u64(0n),
    u64(0xffffffffffffffffn),
    sshString(p.criticalOptions),
    sshString(p.extensions),
    sshString(''),
    sshString(p.signatureKey),
  ]);
  const signature = Buffer.concat([
    sshString('ssh-ed25519'),
    sshString(cryptoSign(null, body, ca.privateKey)),
  ]);
  return Buffer.concat([body, sshString(signature), p.trailing]);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    if (error instanceof AirlockError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('parseCertificate on hand-built certificates', () => {
  it('parses and verifies the well-formed baseline', () => {
    const blob = build();
    const cert = parseCertificate(blob);
    expect(cert).toMatchObject({
      keyId: 'hand-built',
      serial: 7n,
      criticalOptions: { 'force-command': 'id', 'source-address': '127.0.0.1/32' },
      extensions: { 'permit-port-forwarding': '', 'permit-pty': '' },
    });
    const identity = verifyCertificateWithoutSession(blob, {
      trustedCAs: [parsePublicKeyBlob(caBlob)],
      principal: 'alice',
      now: new Date(),
      clientAddress: '127.0.0.1',
    });
    expect(identity.validBefore).toBeNull();
    const line = `ssh-ed25519-cert-v01@openssh.com ${blob.toString('base64')} comment here`;
    expect(parseCertificateLine(line).comment).toBe('comment here');
  });

  const malformed: [string, Partial<Parts>][] = [
    [
      'unsorted critical options',
      {
        criticalOptions: Buffer.concat([option('source-address', '1.2.3.4'), option('force-command', 'id')]),
      },
    ],
    ['duplicate extensions', { extensions: Buffer.concat([option('permit-pty'), option('permit-pty')]) }],
    [
      'an option value with trailing bytes',
      {
        extensions: Buffer.concat([sshString('x'), sshString(Buffer.concat([sshString('v'), Buffer.of(0)]))]),
      },
    ],
    [
      'an option value that is not a string',
      { extensions: Buffer.concat([sshString('x'), sshString(Buffer.of(1, 2))]) },
    ],
    ['an empty option name', { extensions: option('') }],
    ['certificate type 3', { type: 3 }],
    ['an unknown certificate type name', { certType: 'ssh-dss-cert-v01@openssh.com' }],
    ['a key id that is not UTF-8', { keyId: Buffer.of(0xff, 0xfe) }],
    [
      'a principals list with a truncated entry',
      { principals: Buffer.concat([sshString('alice'), Buffer.of(0, 0, 0, 9, 97)]) },
    ],
    ['an ed25519 key of 31 bytes', { keyFields: sshString(Buffer.alloc(31)) }],
    ['trailing bytes after the signature', { trailing: Buffer.of(0) }],
    [
      'an sk-typed CA key',
      {
        signatureKey: Buffer.concat([
          sshString('sk-ssh-ed25519@openssh.com'),
          sshString(Buffer.alloc(32)),
          sshString('ssh:'),
        ]),
      },
    ],
    [
      'an ecdsa certificate with a compressed point',
      {
        certType: 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
        keyFields: Buffer.concat([
          sshString('nistp256'),
          sshString(Buffer.concat([Buffer.of(2), Buffer.alloc(32, 1)])),
        ]),
      },
    ],
    [
      'an ecdsa certificate whose curve name does not match its type',
      {
        certType: 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
        keyFields: Buffer.concat([
          sshString('nistp256'),
          sshString(Buffer.concat([Buffer.of(4), Buffer.alloc(64, 1)])),
        ]),
      },
    ],
    [
      'an RSA key below 1024 bits',
      {
        certType: 'ssh-rsa-cert-v01@openssh.com',
        keyFields: Buffer.concat([sshMpint(Buffer.of(1, 0, 1)), sshMpint(Buffer.alloc(64, 0xab))]),
      },
    ],
    [
      'an RSA modulus with a non-minimal mpint',
      {
        certType: 'ssh-rsa-cert-v01@openssh.com',
        keyFields: Buffer.concat([
          sshMpint(Buffer.of(1, 0, 1)),
          sshString(Buffer.concat([Buffer.of(0), Buffer.alloc(256, 0x3b)])),
        ]),
      },
    ],
    [
      'a negative RSA exponent',
      {
        certType: 'ssh-rsa-cert-v01@openssh.com',
        keyFields: Buffer.concat([sshString(Buffer.of(0x81)), sshMpint(Buffer.alloc(256, 0xab))]),
      },
    ],
  ];
  for (const [name, overrides] of malformed) {
    it(`refuses ${name} with CERT_MALFORMED`, () => {
      expect(codeOf(() => parseCertificate(build(overrides)))).toMatch(/^CERT_MALFORMED: /);
    });
  }

  it('refuses a line whose type name disagrees with the blob', () => {
    const line = `ssh-rsa-cert-v01@openssh.com ${build().toString('base64')}`;
    expect(codeOf(() => parseCertificateLine(line))).toMatch(/^CERT_MALFORMED: line says/);
    expect(codeOf(() => parseCertificateLine('ssh-ed25519-cert-v01@openssh.com not*base64'))).toMatch(
      /^CERT_MALFORMED/,
    );
  });

  it('hashes the CA key like ssh-keygen -l for the identity', () => {
    const blob = build();
    const identity = verifyCertificateWithoutSession(blob, {
      trustedCAs: [parsePublicKeyBlob(caBlob)],
      principal: 'alice',
      now: new Date(),
      clientAddress: '127.0.0.1',
    });
    expect(identity.caFingerprint).toBe(
      `SHA256:${createHash('sha256').update(caBlob).digest('base64').replace(/=+$/, '')}`,
    );
  });
});
