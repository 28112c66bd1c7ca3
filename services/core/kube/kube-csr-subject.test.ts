import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAirlockError } from '../errors.js';
import { toPem } from '../x509/certificate-input.js';
import { createCsr } from '../x509/index.js';
import { type CryptoKeyPair, crypto, x509 } from '../x509/provider.js';
import { readKubeCsrIdentity, SUBJECT_ALT_NAME } from './kube-csr-subject.js';

describe('readKubeCsrIdentity', () => {
  it('reports every CN and O, other attributes and requested extensions', async () => {
    const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=alice, O=jit:a, OU=x, CN=system:admin',
      keys,
      signingAlgorithm: algorithm,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.example' }])],
    });
    const identity = await readKubeCsrIdentity(toPem(csr.rawData, 'CERTIFICATE REQUEST'));
    expect(identity).toMatchObject({
      commonNames: ['alice', 'system:admin'],
      organizations: ['jit:a'],
      otherAttributes: ['OU'],
      extensionOids: [SUBJECT_ALT_NAME],
    });
  });

  it('refuses an RSA key', async () => {
    const algorithm = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=alice',
      keys,
      signingAlgorithm: algorithm,
    });
    await expect(readKubeCsrIdentity(toPem(csr.rawData, 'CERTIFICATE REQUEST'))).rejects.toThrow(
      'csr key must be ECDSA P-256 or Ed25519',
    );
  });

  it('fails only with X509_INVALID on random or mutated DER', async () => {
    const { csrPem } = await createCsr({ commonName: 'alice', organizations: ['jit:a'], keyType: 'ed25519' });
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const mutated = fc
      .tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }))
      .map(([at, xor]) => {
        const copy = Uint8Array.from(der);
        copy[at] = (copy[at] ?? 0) ^ xor;
        return copy;
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), async (bytes) => {
        try {
          await readKubeCsrIdentity(toPem(bytes, 'CERTIFICATE REQUEST'));
        } catch (error) {
          if (!isAirlockError(error, 'X509_INVALID')) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });
});
