import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type SignUserCertificateRequest, signUserCertificate } from './cert-signer.js';
import { fromKeyObject } from './public-key.js';
import { signSshData } from './ssh-signature.js';
import { encodeUserauthRequest } from './userauth-request.js';

/*
 * What the tests of a certificate login share (the mediator's authentication
 * stage, the executor's session admission): a login made in process.
 */

/**
 * A certificate login as a client makes it: a fresh ed25519 user key, its
 * certificate from `certificate` (the key filled in), and a publickey
 * userauth request for it, signed by that key. The three byte strings are
 * what the mediator takes from ssh2 and forwards to the executor.
 */
export function signedCertificateLogin(
  certificate: Omit<SignUserCertificateRequest, 'publicKey'>,
  user = certificate.principals[0]!,
): { blob: Uint8Array; signedData: Uint8Array; signature: Uint8Array } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = fromKeyObject(privateKey);
  const blob = signUserCertificate({ ...certificate, publicKey }).blob;
  const signedData = encodeUserauthRequest({
    sessionId: randomBytes(32),
    user,
    algorithm: 'ssh-ed25519-cert-v01@openssh.com',
    keyBlob: blob,
  });
  return { blob, signedData, signature: signSshData(publicKey, privateKey, signedData) };
}
