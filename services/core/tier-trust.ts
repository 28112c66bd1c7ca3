import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createFileAuditTrail, type FileAuditTrail } from './audit/index.js';
import type { AuditTier } from './audit/types.js';
import { type RevocationFiles, watchRevocationFiles } from './revocation-files.js';
import { parsePublicKeyList, type RevocationList, type SshPublicKey } from './ssh-cert/index.js';
import { watchFile } from './watched-file.js';

/**
 * What the mediator and the executor both trust to verify SSH certificates,
 * re-read when the files change: the broker's SSH user CA keys (a rotation
 * adds the new key, then retires the old one) and the revocation lists.
 * Both are read once here, so a bad file stops start-up.
 */
export function watchSshTrust(
  files: { sshUserCaKeysFile: string; revocation: RevocationFiles },
  clock: () => Date,
): { trustedSshCas: () => SshPublicKey[]; revocation: () => RevocationList[] } {
  const trustedSshCas = watchFile(
    files.sshUserCaKeysFile,
    (content) => {
      const keys = parsePublicKeyList(content.toString('utf8'));
      if (keys.length === 0) throw new Error('it lists no SSH CA key');
      return keys;
    },
    clock,
  );
  const revocation = watchRevocationFiles(files.revocation, clock);
  trustedSshCas();
  revocation();
  return { trustedSshCas, revocation };
}

/** A tier's own audit trail from its `audit` configuration block. */
export function openTierAuditTrail(
  audit: { path: string; signingKeyFile: string; checkpointEvery: number },
  tier: AuditTier,
  clock: () => Date,
): Promise<FileAuditTrail> {
  return createFileAuditTrail({
    path: audit.path,
    tier,
    signingKey: createPrivateKey(readFileSync(audit.signingKeyFile)),
    checkpointEvery: audit.checkpointEvery,
    clock,
  });
}
