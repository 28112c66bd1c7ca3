import { describe, expect, it } from 'vitest';
import { verifyCertificateWithoutSession } from './cert-verifier.js';
import {
  aliceCert,
  caEcdsa,
  caEd25519,
  caRsa,
  certFor,
  keygenFingerprint,
  options,
  useKeygenFixture,
  verdict,
  WINDOW,
  ws,
} from './cert-verifier-test-support.js';
import { parseCertificate } from './certificate.js';
import { createKrlRevocationList, parseDenyList, parseKrl } from './revocation.js';

useKeygenFixture();

describe('refusals, one per code, made with ssh-keygen options', () => {
  it('CERT_MALFORMED: truncated blob and trailing bytes', () => {
    const blob = aliceCert();
    expect(verdict(blob.subarray(0, blob.length - 1))).toBe('CERT_MALFORMED');
    expect(verdict(new Uint8Array([...blob, 0]))).toBe('CERT_MALFORMED');
  });

  it('CERT_UNTRUSTED_CA: signed by a CA not in the trusted set', () => {
    expect(verdict(aliceCert([], { caPath: caEcdsa.path }))).toBe('CERT_UNTRUSTED_CA');
  });

  it('accepts either CA of a rotation set', () => {
    const blob = aliceCert([], { caPath: caEcdsa.path });
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
    expect(verdict(tampered)).toBe('CERT_BAD_CA_SIGNATURE');
  });

  it('CERT_BAD_CA_SIGNATURE: plain ssh-rsa (SHA-1) CA signatures are refused', () => {
    const blob = certFor(['-t', 'ssh-rsa', '-I', 'id', '-n', 'alice', '-V', WINDOW], { caPath: caRsa.path });
    expect(parseCertificate(blob).signature).toBeDefined();
    expect(verdict(blob, { trustedCAs: [caRsa.key] })).toBe('CERT_BAD_CA_SIGNATURE');
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
    expect(verdict(blob)).toBe('CERT_NOT_USER');
  });

  it('CERT_NOT_YET_VALID and CERT_EXPIRED at the window edges, with 30 s default skew', () => {
    const blob = aliceCert();
    const at = (iso: string, skewSeconds?: number) => verdict(blob, { now: new Date(iso), skewSeconds });
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
    const blob = aliceCert();
    expect(verdict(blob, { skewSeconds: Number.NaN })).toBe('USAGE');
    expect(verdict(blob, { skewSeconds: -1 })).toBe('USAGE');
    expect(verdict(blob, { now: new Date('garbage') })).toBe('USAGE');
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
    expect(verdict(certFor(['-I', 'id', '-n', 'bob', '-V', WINDOW]))).toBe('CERT_PRINCIPAL_MISMATCH');
    const empty = certFor(['-I', 'id', '-V', WINDOW]);
    expect(parseCertificate(empty).principals).toEqual([]);
    expect(verdict(empty)).toBe('CERT_PRINCIPAL_MISMATCH');
  });

  it('CERT_SOURCE_ADDRESS: source-address CIDR lists for IPv4, IPv6 and IPv4-mapped clients', () => {
    const blob = aliceCert(['-O', 'source-address=10.0.0.0/8,2001:db8::/32']);
    const from = (clientAddress?: string) => verdict(blob, { clientAddress });
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
    const blob = aliceCert(['-O', 'critical:foo=bar']);
    expect(parseCertificate(blob).criticalOptions).toEqual({ foo: 'bar' });
    expect(verdict(blob)).toBe('CERT_UNKNOWN_CRITICAL_OPTION');
  });

  it('returns force-command and exactly the extensions present', () => {
    const blob = aliceCert([
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
    expect(verdict(blob, { revocation: krl })).toBe('CERT_REVOKED');
    const deny = parseDenyList(JSON.stringify({ keyIds: ['revoke-me'] }));
    expect(verdict(blob, { revocation: [deny] })).toBe('CERT_REVOKED');
    const other = parseDenyList(JSON.stringify({ serials: ['78'] }));
    expect(verdict(blob, { revocation: other })).toBe('accepted');
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
    const good = aliceCert(['-O', `extension:airlock-scope@airlock.dev=${JSON.stringify(scope)}`]);
    expect(verifyCertificateWithoutSession(good, options()).scope).toEqual(scope);
    for (const bad of [
      '{not json',
      JSON.stringify({ ...scope, extra: 1 }),
      JSON.stringify({ ...scope, podPatterns: [] }),
      JSON.stringify({ ...scope, namespace: 'Not_A_Label' }),
      JSON.stringify({ ...scope, groups: 'jit:debug' }),
    ]) {
      expect(verdict(aliceCert(['-O', `extension:airlock-scope@airlock.dev=${bad}`]))).toBe(
        'CERT_SCOPE_INVALID',
      );
    }
    expect(verdict(aliceCert(['-O', 'extension:airlock-scope@airlock.dev']))).toBe('CERT_SCOPE_INVALID');
    expect(verdict(aliceCert(), { requireScope: true })).toBe('CERT_SCOPE_INVALID');
  });
});
