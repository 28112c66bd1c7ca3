import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AirlockError } from '../../core/errors.js';
import { literalName, toPem } from '../../core/x509/certificate-input.js';
import type { CsrKeyType } from '../../core/x509/index.js';
import { crypto, x509 } from '../../core/x509/provider.js';

/**
 * A CSR for `CN=<commonName>, O=<each organization>` signed with an existing
 * private key (PEM: PKCS#8, SEC1 EC or OpenSSL's Ed25519). Only ECDSA P-256
 * and Ed25519 keys are accepted, as the broker accepts only those.
 */
export async function createCsrForKey(
  privateKeyPem: string,
  subject: { commonName: string; organizations: readonly string[] },
): Promise<string> {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new AirlockError('USAGE', 'the key file is not a PEM private key', { cause });
  }
  let importAlgorithm: { name: string; namedCurve?: string };
  let signingAlgorithm: { name: string; hash?: string };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    importAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' };
    signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
  } else if (key.asymmetricKeyType === 'ed25519') {
    importAlgorithm = { name: 'Ed25519' };
    signingAlgorithm = { name: 'Ed25519' };
  } else {
    throw new AirlockError(
      'USAGE',
      `the key is ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}; use an EC P-256 or Ed25519 key`,
    );
  }
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await crypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm, false, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', spki, importAlgorithm, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: literalName([['CN', subject.commonName], ...subject.organizations.map((o) => ['O', o] as const)]),
    keys,
    signingAlgorithm,
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

/** The key type of `--key-type` (default ecdsa-p256): the two the broker accepts. */
export function keyTypeOf(value: string | undefined): CsrKeyType {
  if (value === undefined || value === 'ecdsa-p256' || value === 'ecdsa') return 'ecdsa-p256';
  if (value === 'ed25519') return 'ed25519';
  throw new AirlockError('USAGE', `--key-type must be ecdsa-p256 or ed25519, not ${value}`);
}
