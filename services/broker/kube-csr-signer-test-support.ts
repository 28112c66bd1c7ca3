import { AirlockError } from '../core/errors.js';
import { literalName, toPem } from '../core/x509/certificate-input.js';
import { type CryptoKeyPair, crypto, x509 } from '../core/x509/provider.js';

/*
 * What the kube-csr*.test.ts files share: a requester subject, a CSR builder and the code of a rejection.
 */

export const subject = { commonName: 'sam', organizations: ['jit:shell:payments'] };

export async function csrWithName(
  attributes: [string, string][],
  algorithm: 'ecdsa' | 'rsa' = 'ecdsa',
): Promise<string> {
  const generate =
    algorithm === 'ecdsa'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        };
  const keys = (await crypto.subtle.generateKey(generate, false, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: literalName(attributes),
    keys,
    signingAlgorithm: algorithm === 'ecdsa' ? { name: 'ECDSA', hash: 'SHA-256' } : generate,
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof AirlockError ? error.code : String(error);
  }
}
