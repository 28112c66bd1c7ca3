/**
 * What a running tier reads from CA keyrings and trust bundles, re-read when
 * the files change (at most once a second, `watchFile`), so every step of a
 * rotation takes effect without a restart. A file that becomes unreadable
 * or invalid fails closed: the getter throws CONFIG_INVALID until it is
 * fixed, so nothing is signed or verified with a guess.
 */
import { join } from 'node:path';
import { AirlockError } from '../errors.js';
import { type FileChangeListener, watchFile } from '../files/watched-file.js';
import { parseCertificate, pemBlocks, toPem } from '../x509/certificate-input.js';
import { loadTierCa, type TierCa } from '../x509/index.js';
import { MANIFEST_FILE, parseKeyringManifest } from './keyring.js';
import { readSshCaKeyring, readTierCaKeyring, type SshCaKeyring } from './keyring-files.js';

/** The broker's SSH user CA keyring: the signing key and every key it publishes. */
export function watchSshCaKeyring(
  dir: string,
  clock: () => Date,
  onChange?: FileChangeListener,
): () => SshCaKeyring {
  return watchFile(
    join(dir, MANIFEST_FILE),
    (content) => readSshCaKeyring(dir, parseKeyringManifest(content.toString('utf8'))),
    clock,
    onChange,
  );
}

/**
 * A tier's own CA keyring: the CA it issues from now. The key is imported
 * once per signer (`loadTierCa` checks it matches the certificate); a switch
 * in `keyring.json` is picked up on the next call.
 */
export function watchTierCaKeyring(
  dir: string,
  ca: 'mediator' | 'executor',
  clock: () => Date,
  onChange?: FileChangeListener,
): () => Promise<TierCa> {
  const files = watchFile(
    join(dir, MANIFEST_FILE),
    (content) => readTierCaKeyring(dir, ca, parseKeyringManifest(content.toString('utf8'))),
    clock,
    onChange,
  );
  let loaded: { fingerprint: string; ca: Promise<TierCa> } | undefined;
  return async () => {
    const { active } = files();
    if (loaded?.fingerprint !== active.fingerprint) {
      const loading = loadTierCa(active.certPem, active.keyPem).then((tierCa) => {
        if (tierCa.tier !== ca) {
          throw new AirlockError(
            'CONFIG_INVALID',
            `${dir}: the signing CA is the ${tierCa.tier} tier CA, not ${ca}`,
          );
        }
        return tierCa;
      });
      const entry = { fingerprint: active.fingerprint, ca: loading };
      loaded = entry;
      // A key that does not load is tried again on the next call, not cached as a failure.
      loading.catch(() => {
        if (loaded === entry) loaded = undefined;
      });
    }
    return loaded.ca;
  };
}

/** A PEM bundle of trusted CA certificates, whole and split. */
export interface CaBundleFile {
  /** The bundle as read, for the `ca` option of TLS. */
  readonly pem: string;
  /** One PEM per certificate, for `verifyPeerCertificate`. */
  readonly certPems: readonly string[];
}

/** Parses a PEM bundle: at least one certificate, each a valid one. Throws X509_INVALID or CONFIG_INVALID. */
export function parseCaBundle(text: string): CaBundleFile {
  const certPems = pemBlocks(text, 'CERTIFICATE').map((der) => toPem(der, 'CERTIFICATE'));
  if (certPems.length === 0) throw new AirlockError('CONFIG_INVALID', 'the CA bundle holds no certificate');
  for (const [i, pem] of certPems.entries()) parseCertificate(pem, `CA certificate #${i + 1}`);
  return { pem: certPems.join(''), certPems };
}

/** A peer tier's CA bundle (`mediatorCaBundleFile`, `executor.caBundleFile`), re-read when it changes. */
export function watchCaBundle(
  path: string,
  clock: () => Date,
  onChange?: FileChangeListener,
): () => CaBundleFile {
  return watchFile(path, (content) => parseCaBundle(content.toString('utf8')), clock, onChange);
}
