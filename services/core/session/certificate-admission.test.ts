import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../errors-test-support.js';
import { testPolicy } from '../policy/testing.js';
import {
  encodeUserauthRequest,
  fromKeyObject,
  generateCaKey,
  signSshData,
  signUserCertificate,
} from '../ssh-cert/index.js';
import { devDebugScope } from '../ssh-cert/scope-test-support.js';
import { admitCertificate, admitLogin, maxCertificateLifetime } from './certificate-admission.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const ca = generateCaKey('ed25519');
const { privateKey } = generateKeyPairSync('ed25519');
const userKey = fromKeyObject(privateKey);
const policy = testPolicy();
const scope = devDebugScope();
const options = { trustedCAs: [ca.publicKey], principal: 'alice', now: NOW, policy };
const cert = (seconds: number | 'forever', withScope = true) =>
  signUserCertificate({
    caPrivateKey: ca,
    publicKey: userKey,
    keyId: 'alice',
    principals: ['alice'],
    validAfter: NOW,
    validBefore: seconds === 'forever' ? 'forever' : new Date(NOW.getTime() + seconds * 1000),
    ...(withScope ? { scope } : {}),
  }).blob;

describe('admitCertificate', () => {
  it("bounds the lifetime by the profile's max TTL, else the policy's", () => {
    expect(maxCertificateLifetime(policy, 'debug')).toBe(3600);
    expect(maxCertificateLifetime(policy, 'no-such-profile')).toBe(28_800);
  });

  it('accepts a certificate as long as the bound and refuses one a second longer, or forever', () => {
    expect(admitCertificate(cert(3600), options).validBefore).toBe(BigInt(NOW.getTime() / 1000 + 3600));
    expect(codeOf(() => admitCertificate(cert(3601), options))).toBe('CERT_LIFETIME_EXCEEDS_POLICY');
    expect(codeOf(() => admitCertificate(cert('forever'), options))).toBe('CERT_LIFETIME_EXCEEDS_POLICY');
  });

  it('refuses a certificate without the airlock scope', () => {
    expect(codeOf(() => admitCertificate(cert(600, false), options))).toBe('CERT_SCOPE_INVALID');
  });
});

describe('admitLogin', () => {
  const login = (blob: Uint8Array, data?: Uint8Array) => {
    const signed =
      data ??
      encodeUserauthRequest({
        sessionId: randomBytes(32),
        user: 'alice',
        algorithm: 'ssh-ed25519-cert-v01@openssh.com',
        keyBlob: blob,
      });
    return () => admitLogin(blob, signSshData(userKey, privateKey, signed), signed, options);
  };

  it('accepts a signature over a publickey login request for the certificate', () => {
    expect(codeOf(login(cert(600)))).toBe('accepted');
  });

  it('refuses a valid signature by the certified key over anything else', () => {
    expect(codeOf(login(cert(600), randomBytes(64)))).toBe('CERT_BAD_SIGNATURE');
  });

  it('checks the lifetime of a login too', () => {
    expect(codeOf(login(cert('forever')))).toBe('CERT_LIFETIME_EXCEEDS_POLICY');
  });
});
