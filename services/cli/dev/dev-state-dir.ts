import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The folders of a dev stack's state dir (kept across runs: a second `dev up` reuses keys and users). */
export interface DevDirs {
  /** CA keyrings, tier CAs, audit signing keys, the host key, the deny list and KRL. */
  keys: string;
  /** The tiers' audit logs and the mediator's recordings. */
  audit: string;
  /** One folder per demo user: SSH key, certificate, CLI config. */
  users: string;
  /** The tiers' config files, the policy and the ServiceAccount kubeconfigs. */
  config: string;
}

/** The folders of `stateDir`, created (owner-only) if absent. */
export function createDevDirs(stateDir: string): DevDirs {
  const dirs: DevDirs = {
    keys: join(stateDir, 'keys'),
    audit: join(stateDir, 'audit'),
    users: join(stateDir, 'users'),
    config: join(stateDir, 'config'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dirs;
}

/** Writes a file only its owner may read (keys, tokens). */
export function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}
