import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { generateCaKey, parseCertificate, signUserCertificate } from '../core/ssh-cert/index.js';
import { refusalBanner } from './auth-banner.js';

function certificate(scopeRequestId: string, principals: string[]) {
  const ca = generateCaKey('ed25519');
  const user = generateCaKey('ed25519');
  const signed = signUserCertificate({
    caPrivateKey: ca,
    publicKey: user.publicKey,
    keyId: 'k',
    principals,
    validAfter: new Date('2026-12-06T17:00:00Z'),
    validBefore: new Date('2026-12-06T17:17:00Z'),
    scope: {
      cluster: 'c',
      namespace: 'payments',
      podPatterns: ['api-*'],
      profile: 'debug',
      requestId: scopeRequestId,
      groups: [],
    },
  });
  return parseCertificate(Buffer.from(signed.line.split(' ')[1]!, 'base64'));
}

describe('refusalBanner', () => {
  it('names the code, the expiry and the request to renew for an expired certificate', () => {
    const banner = refusalBanner(
      new AirlockError('CERT_EXPIRED', 'certificate has expired'),
      certificate('req-1', ['alice']),
    );
    expect(banner).toBe(
      'airlock: CERT_EXPIRED — certificate has expired; your certificate expired at 2026-12-06T17:17:00Z; run: airlock cert req-1, or if the request has expired, run: airlock request (a new request)\r\n',
    );
  });

  it('is one terminal-safe line even when the message quotes hostile text', () => {
    const banner = refusalBanner(
      new AirlockError('CERT_PRINCIPAL_MISMATCH', 'not valid for \u001b]0;owned\u0007x\ny'),
      certificate('req-1', ['alice']),
    );
    expect(banner.slice(0, -2)).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(banner).toContain('log in as alice');
  });

  it('gives no fix it cannot stand behind', () => {
    const banner = refusalBanner(new AirlockError('CERT_MALFORMED', 'bad'), certificate('req-1', ['alice']));
    expect(banner).toBe('airlock: CERT_MALFORMED — bad\r\n');
  });
});
