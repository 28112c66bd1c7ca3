/**
 * The dev stack's keys: the three rotating CAs in keyrings (SSH user,
 * mediator, executor), the broker's tier CA, one audit signing key per tier,
 * and the empty revocation lists. Kept across runs: certificates issued
 * earlier stay verifiable.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaKind } from '../../core/ca-keyring/keyring.js';
import {
  addKeyToKeyring,
  generateCaKeyFor,
  importCaKey,
  readKeyringManifest,
} from '../../core/ca-keyring/keyring-files.js';
import { emptyKrl, encodeKrl } from '../../core/ssh-cert/index.js';
import { createTierCa, loadTierCa, type TierCa } from '../../core/x509/index.js';
import { writeSecret } from './dev-state-dir.js';

/** What `createDevPki` made (or found) under the keys dir. */
export interface DevPki {
  /** The CA keyrings that `airlock ca rotate` operates on; the tiers watch them. */
  caDirs: Readonly<Record<CaKind, string>>;
  /** The broker's tier CA: it signs the broker's and the identity provider's serving certificates. */
  brokerCa: { cert: string; key: string; ca: TierCa };
  /** The deny list the broker writes and the mediator and executor watch. */
  denyListPath: string;
  /** The KRL with the same revocations as the deny list. */
  krlPath: string;
}

/**
 * Creates the keyring of `ca` unless it exists. An earlier run's single key
 * (the layout before keyrings) is imported, so certificates it issued stay
 * valid.
 */
export async function ensureKeyring(
  dir: string,
  ca: CaKind,
  legacy: { keyFile: string; certFile?: string },
  now: Date,
): Promise<void> {
  if (readKeyringManifest(dir) !== undefined) return;
  const key =
    existsSync(legacy.keyFile) && (legacy.certFile === undefined || existsSync(legacy.certFile))
      ? await importCaKey(ca, legacy)
      : await generateCaKeyFor(ca, { now, comment: `airlock-dev-${ca}-ca` });
  addKeyToKeyring(dir, ca, key, { now });
}

/** The broker's tier CA, created on the first run. */
async function ensureBrokerCa(keysDir: string, now: Date): Promise<DevPki['brokerCa']> {
  const cert = join(keysDir, 'broker-ca.pem');
  const key = join(keysDir, 'broker-ca.key');
  if (!existsSync(cert) || !existsSync(key)) {
    const ca = await createTierCa({ tier: 'broker', now });
    writeFileSync(cert, ca.certPem);
    writeSecret(key, ca.privateKeyPem);
  }
  return { cert, key, ca: await loadTierCa(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8')) };
}

/** `<tier>-audit.key` (PKCS#8) and `<tier>-audit.pub` (SPKI), created on the first run. */
function ensureAuditKey(keysDir: string, tier: string): void {
  const auditKey = join(keysDir, `${tier}-audit.key`);
  if (existsSync(auditKey)) return;
  const { privateKey } = generateKeyPairSync('ed25519');
  writeSecret(auditKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  writeFileSync(
    join(keysDir, `${tier}-audit.pub`),
    createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  );
}

/** Creates the dev CAs and keys under `keysDir`, reusing what an earlier run left there. */
export async function createDevPki(
  keysDir: string,
  now: Date,
  onProgress: (line: string) => void,
): Promise<DevPki> {
  const reusing = readKeyringManifest(join(keysDir, 'ca', 'ssh-user')) !== undefined;
  onProgress(reusing ? `reusing the dev CAs and keys in ${keysDir}` : 'creating dev CAs and keys');
  // The three CAs that rotate (`airlock ca rotate <ca> … --dir <caDirs[ca]>`) live in keyrings;
  // kept across runs (a second `dev up` reuses them): certificates issued earlier stay verifiable.
  const caDirs: DevPki['caDirs'] = {
    'ssh-user': join(keysDir, 'ca', 'ssh-user'),
    mediator: join(keysDir, 'ca', 'mediator'),
    executor: join(keysDir, 'ca', 'executor'),
  };
  await ensureKeyring(caDirs['ssh-user'], 'ssh-user', { keyFile: join(keysDir, 'ssh-user-ca') }, now);
  let brokerCa: DevPki['brokerCa'] | undefined;
  for (const tier of ['mediator', 'executor', 'broker'] as const) {
    if (tier !== 'broker') {
      const legacy = { certFile: join(keysDir, `${tier}-ca.pem`), keyFile: join(keysDir, `${tier}-ca.key`) };
      await ensureKeyring(caDirs[tier], tier, legacy, now);
    } else {
      brokerCa = await ensureBrokerCa(keysDir, now);
    }
    ensureAuditKey(keysDir, tier);
  }
  // One deny list and one KRL with the same revocations: the broker writes
  // both, the mediator and executor watch both (they start before the broker).
  const denyListPath = join(keysDir, 'revoked.json');
  if (!existsSync(denyListPath)) {
    writeFileSync(denyListPath, JSON.stringify({ serials: [], keyIds: [], fingerprints: [] }));
  }
  const krlPath = join(keysDir, 'revoked.krl');
  if (!existsSync(krlPath)) writeFileSync(krlPath, encodeKrl(emptyKrl('airlock broker revocations')));
  return { caDirs, brokerCa: brokerCa!, denyListPath, krlPath };
}
