import { KUBE_CLIENT_SIGNER } from '../core/kube/kube-csr.js';

/*
 * What the tests of the CSR approval webhook share (admission-review.test.ts,
 * server.test.ts): the spec of the CSR an AdmissionReview carries.
 */

/** The spec of a half-hour client-certificate CSR `csrPem` for the kube-apiserver client signer, by `username`. */
export const clientCsrSpec = (csrPem: string, username: string) => ({
  request: Buffer.from(csrPem).toString('base64'),
  signerName: KUBE_CLIENT_SIGNER,
  expirationSeconds: 1800,
  usages: ['client auth'],
  username,
});
