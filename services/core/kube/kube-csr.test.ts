import { describe, expect, it } from 'vitest';
import { type CertificatesApi, createKubeCsrSignerFromApi } from './kube-csr.js';

/** An API whose delete answers with `status` (200: deleted). */
function deletingApi(status: number, calls: string[]): CertificatesApi {
  const refuse = async () => {
    throw new Error('not used');
  };
  return {
    createCertificateSigningRequest: refuse,
    replaceCertificateSigningRequestApproval: refuse,
    readCertificateSigningRequest: refuse,
    async deleteCertificateSigningRequest({ name }) {
      calls.push(`delete ${name}`);
      if (status !== 200) throw Object.assign(new Error(`HTTP ${status}`), { code: status });
      return {};
    },
  };
}

describe('KubeCsrSigner.remove', () => {
  it('deletes by name; an object already gone (404) counts as removed, any other failure does not', async () => {
    for (const [status, gone] of [
      [200, true],
      [404, true],
      [403, false],
      [500, false],
    ] as const) {
      const calls: string[] = [];
      const signer = createKubeCsrSignerFromApi(deletingApi(status, calls));
      expect(await signer.remove('airlock-exec-1'), String(status)).toBe(gone);
      expect(calls).toEqual(['delete airlock-exec-1']);
    }
  });
});
