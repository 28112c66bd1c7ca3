/**
 * Host certificates of the airlock host CA: what `ssh-keygen -L` reads back,
 * the host rules (principals, bounded validity), and that neither kind of
 * certificate passes for the other (the user verifier's type check, the
 * mediator's host-certificate loader).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeygenWorkspace } from '../../../test/fixtures/ssh-cert/ssh-keygen-harness.js';
import { AirlockError } from '../errors.js';
import { signUserCertificate } from './cert-signer.js';
import { verifyCertificateWithoutSession } from './cert-verifier.js';
import { parseCertificateLine } from './certificate.js';
import { MAX_HOST_CERT_LIFETIME_SECONDS, signHostCertificate } from './host-cert-signer.js';
import { loadHostCertificate, loadOrCreateHostKey } from './host-key.js';
import { generateCaKey } from './private-key.js';
import { parsePublicKeyLine } from './public-key.js';

let ws: KeygenWorkspace;
beforeAll(() => {
  ws = new KeygenWorkspace();
});
afterAll(() => ws.cleanup());

const NOW = new Date('2030-01-01T12:00:00Z');
const HOUR = 3_600_000;
const ca = generateCaKey('ed25519', 'airlock-host-ca');
const hostDir = mkdtempSync(join(tmpdir(), 'airlock-hostcert-unit-'));
const hostKey = loadOrCreateHostKey(join(hostDir, 'host_ed25519'));
const hostPublic = parsePublicKeyLine(hostKey.publicKeyLine).key;

/** What every certificate here is signed with: the host key, one hour from NOW. */
const SIGNING = {
  caPrivateKey: ca,
  publicKey: hostPublic,
  keyId: 'mediator/req-42',
  principals: ['mediator.airlock'],
  validAfter: NOW,
  validBefore: new Date(NOW.getTime() + HOUR),
};

function sign(overrides: Partial<Parameters<typeof signHostCertificate>[0]> = {}) {
  return signHostCertificate({ ...SIGNING, ...overrides });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof AirlockError ? error.code : `not an AirlockError: ${String(error)}`;
  }
  return undefined;
}

describe('signHostCertificate', () => {
  it('issues a host certificate with the principals, key id and window, as ssh-keygen -L reads it', () => {
    const signed = sign({ principals: ['mediator.airlock', 'mediator-0.airlock'] });
    const { certificate } = parseCertificateLine(signed.line);
    expect(certificate.type).toBe('host');
    expect(certificate.certType).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(certificate.principals).toEqual(['mediator.airlock', 'mediator-0.airlock']);
    expect(certificate.keyId).toBe('mediator/req-42');
    expect(certificate.validAfter).toBe(BigInt(NOW.getTime() / 1000));
    expect(certificate.validBefore).toBe(BigInt(NOW.getTime() / 1000 + 3600));
    expect(certificate.criticalOptions).toEqual({});
    expect(certificate.extensions).toEqual({});
    const listing = ws.listCert(signed.line);
    expect(listing).toMatch(/Type: ssh-ed25519-cert-v01@openssh.com host certificate/);
    expect(listing).toMatch(/Principals:\s+mediator\.airlock\s+mediator-0\.airlock/);
    expect(listing).toMatch(/Valid: from 2030-01-01T\d\d:00:00 to 2030-01-01T\d\d:00:00/);
  });

  it('allows the longest validity and refuses one second more', () => {
    const longest = new Date(NOW.getTime() + MAX_HOST_CERT_LIFETIME_SECONDS * 1000);
    expect(codeOf(() => sign({ validBefore: longest }))).toBeUndefined();
    expect(codeOf(() => sign({ validBefore: new Date(longest.getTime() + 1000) }))).toBe('USAGE');
  });

  it.each([
    ['no principal', { principals: [] }],
    ['a wildcard principal', { principals: ['*.airlock'] }],
    ['a principal list in one name', { principals: ['a.airlock,b.airlock'] }],
    ['an empty key id', { keyId: ' ' }],
    ['an empty window', { validBefore: NOW }],
  ])('refuses %s with USAGE', (_name, overrides) => {
    expect(codeOf(() => sign(overrides))).toBe('USAGE');
  });
});

describe('host and user certificates do not pass for each other', () => {
  it('the user-certificate verifier refuses a host certificate (CERT_NOT_USER)', () => {
    const { certificate } = parseCertificateLine(sign({ principals: ['alice'] }).line);
    const options = { trustedCAs: [ca.publicKey], principal: 'alice', now: new Date(NOW.getTime() + 60_000) };
    expect(codeOf(() => verifyCertificateWithoutSession(certificate.blob, options))).toBe('CERT_NOT_USER');
  });

  it('the mediator loads a host certificate of its key, and refuses a user certificate of it', () => {
    const hostCertPath = join(hostDir, 'host-cert.pub');
    const line = sign().line;
    writeFileSync(hostCertPath, `${line}\n`);
    expect(loadHostCertificate(hostCertPath, hostKey, NOW).certificate).toBe(line);

    const userCertPath = join(hostDir, 'user-cert.pub');
    const user = signUserCertificate(SIGNING);
    writeFileSync(userCertPath, `${user.line}\n`);
    expect(codeOf(() => loadHostCertificate(userCertPath, hostKey, NOW))).toBe('CONFIG_INVALID');
  });

  it('the mediator refuses a host certificate of another key, or an expired one', () => {
    const other = loadOrCreateHostKey(join(hostDir, 'other_ed25519'));
    const path = join(hostDir, 'other-cert.pub');
    writeFileSync(path, `${sign({ publicKey: parsePublicKeyLine(other.publicKeyLine).key }).line}\n`);
    expect(codeOf(() => loadHostCertificate(path, hostKey, NOW))).toBe('CONFIG_INVALID');
    const expired = join(hostDir, 'expired-cert.pub');
    writeFileSync(expired, `${sign().line}\n`);
    expect(codeOf(() => loadHostCertificate(expired, hostKey, new Date(NOW.getTime() + HOUR)))).toBe(
      'CONFIG_INVALID',
    );
  });
});
