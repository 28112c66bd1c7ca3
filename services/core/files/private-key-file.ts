/**
 * Is a private key file private to this process? The check every tier makes
 * before it reads a key it signs with (the SSH user CA keys, the mediator's
 * host key), like OpenSSH's "UNPROTECTED PRIVATE KEY FILE" refusal.
 *
 * Accepted:
 * - no access for group or others (0600, 0400, …), whoever owns the file;
 * - group read and nothing else for group or others (0440, 0640) when the
 *   file is owned by root, the process is not root, and the file's group is
 *   the process's own (primary) gid, and not 0.
 *
 * The second case is a Kubernetes Secret volume under `fsGroup`: the kubelet
 * (root) writes the files, then gives the pod's fsGroup read access (it ORs
 * 0440 into every file of a read-only volume, whatever `defaultMode` says),
 * so a `defaultMode: 0400` Secret arrives as `root:<fsGroup> 0440`. Without
 * fsGroup the files are `root:root 0400` and a non-root process cannot read
 * them at all, so fsGroup cannot simply be dropped. A root-owned file read
 * by a non-root process is one its user did not make by mistake (only root
 * can chown to root), and with `runAsGroup` equal to `fsGroup` the group is
 * the process's own. Refused still: any access for others; group write or
 * execute; group read on a file the user owns (their primary group may be
 * shared with other people, e.g. `users` or `staff`), when the process is
 * root (then every file it made is root-owned, which proves nothing), or
 * with another group or group 0. deploy/README.md "Key files and fsGroup"
 * explains the deployment side.
 */
import { statSync } from 'node:fs';
import { AirlockError } from '../errors.js';

/** The parts of `fs.Stats` the check reads. */
export interface FileOwnership {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The process's own ids (`process.getuid()`, `process.getgid()`). */
export interface ProcessIds {
  readonly uid: number;
  readonly gid: number;
}

/** The mode as `ls -l`/`chmod` write it, e.g. `0640`. */
export function formatMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/**
 * Returns why a key file with this ownership and mode is not private to the
 * process, or `undefined` when it is (see the module comment for the rules).
 * Pure: the caller stats the file.
 */
export function privateKeyFileExposure(file: FileOwnership, process: ProcessIds): string | undefined {
  const mode = file.mode & 0o777;
  const shown = formatMode(mode);
  if ((mode & 0o007) !== 0) return `mode ${shown} lets others access it`;
  const group = mode & 0o070;
  if (group === 0) return undefined;
  if (group !== 0o040) return `mode ${shown} lets its group write or execute it`;
  // Group read only for a file root made for this non-root process's group (a Secret under fsGroup).
  if (file.uid !== 0 || process.uid === 0) {
    return `mode ${shown} lets its group read it (accepted only on a root-owned file read by a non-root process, as the kubelet writes a Secret volume under fsGroup)`;
  }
  if (file.gid === 0 || file.gid !== process.gid) {
    return `mode ${shown} lets group ${file.gid} read it, which is not this process's own non-root group (${process.gid})`;
  }
  return undefined;
}

/** This process's ids; -1 where the platform has none (then only 0600-style modes pass). */
export function currentProcessIds(): ProcessIds {
  return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
}

/**
 * Throws CONFIG_INVALID unless the private key file at `path` is private to
 * this process (`what` names it in the message, e.g. "the SSH CA key").
 * Follows symlinks, as a reader does (Secret volumes are symlinks into `..data`).
 */
export function assertPrivateKeyFile(path: string, what: string, ids = currentProcessIds()): void {
  let info: FileOwnership;
  try {
    info = statSync(path);
  } catch (cause) {
    throw new AirlockError('CONFIG_INVALID', `cannot read ${what} ${path}`, { cause });
  }
  const exposure = privateKeyFileExposure(info, ids);
  if (exposure !== undefined) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `${what} ${path} is not private: ${exposure}; make it 0600 or narrower`,
    );
  }
}
