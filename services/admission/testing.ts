/**
 * A ready-to-run configuration of the CSR approval webhook for tests: a
 * throw-away CA, a serving certificate for 127.0.0.1 signed by it, the key
 * written 0600, and a config file naming the policy. Shipped as real code
 * (like the other `testing.ts` files) so unit and cluster tests set the
 * webhook up the same way.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTierCa, issueServingCertificate } from '../core/x509/index.js';

export interface AdmissionTestFiles {
  /** The config file for `--config` / `loadAdmissionConfig`. */
  readonly configPath: string;
  /** The CA that signed the serving certificate: the webhook configuration's caBundle. */
  readonly caPem: string;
}

/** Writes TLS files and a config into `dir` (which must exist). */
export async function writeAdmissionTestFiles(
  dir: string,
  options: { policyFile: string; cluster: string; namespaces: string[]; listen?: string },
): Promise<AdmissionTestFiles> {
  const now = new Date();
  // Any tier CA serves: the API server trusts exactly the caBundle it is given.
  const ca = await createTierCa({ tier: 'broker', commonName: 'airlock broker CA (admission test)', now });
  const serving = await issueServingCertificate(ca, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    now,
  });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, `${serving.certPem}${ca.certPem}`);
  writeFileSync(keyFile, serving.privateKeyPem ?? '', { mode: 0o600 });
  const configPath = join(dir, 'admission.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      listen: options.listen ?? '127.0.0.1:0',
      tls: { certFile, keyFile },
      policyFile: options.policyFile,
      cluster: options.cluster,
      namespaces: options.namespaces,
      ops: { listen: '127.0.0.1:0' },
      logLevel: 'warn',
    }),
  );
  return { configPath, caPem: ca.certPem };
}
