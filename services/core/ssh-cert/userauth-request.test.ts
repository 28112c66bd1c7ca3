import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { codeOf } from '../errors-test-support.js';
import { signUserCertificate } from './cert-signer.js';
import { parseCertificate } from './certificate.js';
import { generateCaKey } from './private-key.js';
import { fromKeyObject } from './public-key.js';
import { signSshData } from './ssh-signature.js';
import { SshWriter } from './ssh-wire.js';
import {
  checkUserauthRequest,
  encodeUserauthRequest,
  parseUserauthRequest,
  SSH_MSG_USERAUTH_REQUEST,
} from './userauth-request.js';

const ca = generateCaKey('ed25519');
const { privateKey } = generateKeyPairSync('ed25519');
const userKey = fromKeyObject(privateKey);
const cert = parseCertificate(
  signUserCertificate({
    caPrivateKey: ca,
    publicKey: userKey,
    keyId: 'alice',
    principals: ['alice'],
    validAfter: new Date('2030-01-01T00:00:00Z'),
    validBefore: new Date('2030-01-01T01:00:00Z'),
  }).blob,
);
const SESSION_ID = new Uint8Array(32).fill(7);
const request = (overrides: Partial<Parameters<typeof encodeUserauthRequest>[0]> = {}) =>
  encodeUserauthRequest({
    sessionId: SESSION_ID,
    user: 'alice',
    algorithm: 'ssh-ed25519-cert-v01@openssh.com',
    keyBlob: cert.blob,
    ...overrides,
  });
const signatureOver = (data: Uint8Array) => signSshData(userKey, privateKey, data);

describe('parseUserauthRequest', () => {
  it('reads back what encodeUserauthRequest wrote', () => {
    const parsed = parseUserauthRequest(request());
    expect(parsed).toEqual({
      sessionId: SESSION_ID,
      user: 'alice',
      service: 'ssh-connection',
      algorithm: 'ssh-ed25519-cert-v01@openssh.com',
      keyBlob: cert.blob,
    });
  });

  it('refuses every structural defect with CERT_BAD_SIGNATURE', () => {
    const fields = (parts: {
      session?: Uint8Array;
      type?: number;
      service?: string;
      method?: string;
      flag?: number;
    }) =>
      new SshWriter()
        .string(parts.session ?? SESSION_ID)
        .byte(parts.type ?? SSH_MSG_USERAUTH_REQUEST)
        .string('alice')
        .string(parts.service ?? 'ssh-connection')
        .string(parts.method ?? 'publickey')
        .byte(parts.flag ?? 1)
        .string('ssh-ed25519-cert-v01@openssh.com')
        .string(cert.blob)
        .toBytes();
    const bad = [
      fields({ session: new Uint8Array(19) }),
      fields({ session: new Uint8Array(65) }),
      fields({ type: 51 }),
      fields({ service: 'ssh-userauth' }),
      fields({ method: 'password' }),
      fields({ flag: 0 }),
      fields({ flag: 2 }),
      Buffer.concat([request(), Buffer.from([0])]),
      request().subarray(0, 100),
      new Uint8Array(0),
      new Uint8Array(21 * 1024),
    ];
    for (const data of bad) expect(codeOf(() => parseUserauthRequest(data))).toBe('CERT_BAD_SIGNATURE');
  });

  it('refuses an `ssh-keygen -Y sign` blob (SSHSIG, PROTOCOL.sshsig)', () => {
    const sshsig = new SshWriter()
      .raw(Buffer.from('SSHSIG'))
      .string('file')
      .string('')
      .string('sha512')
      .string(new Uint8Array(64))
      .toBytes();
    expect(codeOf(() => parseUserauthRequest(sshsig))).toBe('CERT_BAD_SIGNATURE');
  });

  it('property: any input either parses and re-encodes to itself, or is refused with CERT_BAD_SIGNATURE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        let parsed: ReturnType<typeof parseUserauthRequest>;
        try {
          parsed = parseUserauthRequest(bytes);
        } catch (error) {
          return error instanceof AirlockError && error.code === 'CERT_BAD_SIGNATURE';
        }
        return Buffer.from(encodeUserauthRequest(parsed)).equals(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a valid request with one byte changed or cut never parses to the same request', () => {
    const original = request();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: original.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (index, xor, cut) => {
          const changed = cut ? original.subarray(0, index) : Uint8Array.from(original);
          if (!cut) changed[index] = changed[index]! ^ xor;
          try {
            const parsed = parseUserauthRequest(changed);
            return !Buffer.from(encodeUserauthRequest(parsed)).equals(Buffer.from(original));
          } catch (error) {
            return error instanceof AirlockError && error.code === 'CERT_BAD_SIGNATURE';
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: arbitrary well-formed fields round-trip', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 64 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (sessionId, user, algorithm, keyBlob) => {
          const parsed = parseUserauthRequest(encodeUserauthRequest({ sessionId, user, algorithm, keyBlob }));
          expect(parsed).toEqual({ sessionId, user, service: 'ssh-connection', algorithm, keyBlob });
        },
      ),
      { numRuns: 500 },
    );
  });
});

it('keeps a leading byte order mark in the user name, so parsing is exact', () => {
  const data = request({ user: '\ufeffalice' });
  expect(parseUserauthRequest(data).user).toBe('\ufeffalice');
  expect(codeOf(() => checkUserauthRequest(data, signatureOver(data), cert, 'alice'))).toBe(
    'CERT_BAD_SIGNATURE',
  );
});

describe('checkUserauthRequest', () => {
  it('accepts a login request for this certificate and principal', () => {
    const data = request();
    expect(checkUserauthRequest(data, signatureOver(data), cert, 'alice').user).toBe('alice');
  });

  it('refuses another user, another key, another algorithm', () => {
    const other = parseCertificate(
      signUserCertificate({
        caPrivateKey: ca,
        publicKey: userKey,
        keyId: 'other',
        principals: ['alice'],
        validAfter: new Date('2030-01-01T00:00:00Z'),
        validBefore: new Date('2030-01-01T01:00:00Z'),
      }).blob,
    );
    const cases = [
      request({ user: 'bob' }),
      request({ keyBlob: other.blob }),
      request({ algorithm: 'ssh-ed25519' }),
      request({ algorithm: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' }),
    ];
    for (const data of cases)
      expect(codeOf(() => checkUserauthRequest(data, signatureOver(data), cert, 'alice'))).toBe(
        'CERT_BAD_SIGNATURE',
      );
  });
});
