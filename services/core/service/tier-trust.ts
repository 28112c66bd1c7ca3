import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  type AuditStorage,
  type AuditTrail,
  createFileAuditTrail,
  type FileAuditTrail,
  nodeAuditStorage,
  otlpAckStorage,
} from '../audit/index.js';
import type { AuditTier } from '../audit/types.js';
import { type CaBundleFile, watchCaBundle, watchTierCaKeyring } from '../ca-keyring/watch.js';
import { AirlockError } from '../errors.js';
import { type FileChangeListener, watchFile } from '../files/watched-file.js';
import { parsePublicKeyList, type RevocationList, type SshPublicKey } from '../ssh-cert/index.js';
import { loadTierCa, type TierCa } from '../x509/index.js';
import type { OffPodAckConfig, TierAuditConfig, TierCaSource } from './config-file.js';
import { type RevocationFiles, watchRevocationFiles } from './revocation-files.js';

/**
 * What the mediator and the executor both trust to verify SSH certificates,
 * re-read when the files change: the broker's SSH user CA keys (a rotation
 * adds the new key, then retires the old one) and the revocation lists.
 * Both are read once here, so a bad file stops start-up.
 */
export function watchSshTrust(
  files: { sshUserCaKeysFile: string; revocation: RevocationFiles },
  clock: () => Date,
  onCaChange?: FileChangeListener,
): { trustedSshCas: () => SshPublicKey[]; revocation: () => RevocationList[] } {
  const trustedSshCas = watchFile(
    files.sshUserCaKeysFile,
    (content) => {
      const keys = parsePublicKeyList(content.toString('utf8'));
      if (keys.length === 0) throw new Error('it lists no SSH CA key');
      return keys;
    },
    clock,
    onCaChange,
  );
  const revocation = watchRevocationFiles(files.revocation, clock);
  trustedSshCas();
  revocation();
  return { trustedSshCas, revocation };
}

/**
 * The benchmark-only switch that turns off the audit trail's fsync, so
 * `npm run bench` can measure what durability costs per session. It is an
 * environment variable on purpose, not a config field: no deployment file
 * can carry it. Records are still written, chained and checkpointed, but a
 * crash may lose the last ones, so decisions are no longer durable.
 */
export const UNSAFE_NO_AUDIT_FSYNC_ENV = 'AIRLOCK_BENCH_UNSAFE_NO_AUDIT_FSYNC';

/**
 * Whether a tier's audit trail fsyncs: true unless
 * AIRLOCK_BENCH_UNSAFE_NO_AUDIT_FSYNC is exactly `1`. When it is off, `warn`
 * is told so; the composition roots log it at warn on every start and record
 * `audit_fsync: false` in their `config.loaded` audit event.
 */
export function auditFsyncFromEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void): boolean {
  if (env[UNSAFE_NO_AUDIT_FSYNC_ENV] !== '1') return true;
  warn(
    `${UNSAFE_NO_AUDIT_FSYNC_ENV}=1: audit fsync is OFF, decisions are not durable (benchmarks only, never in production)`,
  );
  return false;
}

/** A tier's own audit trail from its `audit` configuration block; `fsync` off only for benchmarks. */
export function openTierAuditTrail(
  audit: TierAuditConfig,
  tier: AuditTier,
  clock: () => Date,
  fsync = true,
): Promise<FileAuditTrail> {
  const storage = offPodAckStorage(audit.offPodAck);
  return createFileAuditTrail({
    path: audit.path,
    tier,
    signingKey: createPrivateKey(readFileSync(audit.signingKeyFile)),
    checkpointEvery: audit.checkpointEvery,
    checkpointIntervalMs: audit.checkpointSeconds * 1000,
    clock,
    fsync,
    ...(storage ? { storage } : {}),
  });
}

/**
 * The trail's storage in the off-pod ack mode (docs/audit-shipping.md), or
 * undefined for the plain file. The origin defaults to the host name, which
 * is the pod name in Kubernetes.
 */
export function offPodAckStorage(ack: OffPodAckConfig | undefined): AuditStorage | undefined {
  if (ack === undefined) return undefined;
  return otlpAckStorage(nodeAuditStorage, {
    endpoint: ack.endpoint,
    trail: ack.trail ?? hostname(),
    timeoutMs: ack.timeoutMs,
  });
}

/**
 * The tier's own CA, the one it issues its certificates from now: from a
 * keyring directory (re-read when `keyring.json` changes, so `airlock ca
 * rotate … switch` takes effect without a restart) or from fixed files.
 * Loaded once here, so a bad CA stops start-up; later a bad keyring fails
 * closed (the getter rejects with CONFIG_INVALID).
 */
export async function openTierCa(
  source: TierCaSource,
  tier: 'mediator' | 'executor',
  clock: () => Date,
  onCaChange?: FileChangeListener,
): Promise<() => Promise<TierCa>> {
  if ('dir' in source) {
    const current = watchTierCaKeyring(source.dir, tier, clock, onCaChange);
    await current();
    return current;
  }
  const fixed = await loadTierCa(readFileSync(source.certFile, 'utf8'), readFileSync(source.keyFile, 'utf8'));
  if (fixed.tier !== tier) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `${source.certFile} is the ${fixed.tier} tier CA, not the ${tier}'s`,
    );
  }
  return async () => fixed;
}

/** The other tier's CA bundle (PEM), re-read when it changes; read once here, so a bad one stops start-up. */
export function openPeerCaBundle(
  path: string,
  clock: () => Date,
  onCaChange?: FileChangeListener,
): () => CaBundleFile {
  const bundle = watchCaBundle(path, clock, onCaChange);
  bundle();
  return bundle;
}

/**
 * Audits each CA change a tier takes while running (a rotation step: a new
 * trusted key or bundle, a switched signer) as `ca.changed`, naming what
 * changed, its file and the SHA-256 of the content now in use.
 */
export function auditCaChanges(audit: AuditTrail, what: string): FileChangeListener {
  return ({ path, sha256 }) => {
    // A failed append leaves the trail unhealthy, and the tier then refuses work.
    audit
      .append({
        event: 'ca.changed',
        actor: { kind: 'system' },
        target: {},
        reason: `${what} reloaded`,
        details: { file: path, sha256 },
      })
      .catch(() => {});
  };
}
