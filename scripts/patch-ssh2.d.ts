// Types for scripts/patch-ssh2.js (plain JavaScript: it runs at npm ci, before the build).
export interface Hunk {
  before: string;
  after: string;
}
export function parsePatch(text: string): { path: string; hunks: Hunk[] }[];
export function applyHunks(
  text: string,
  hunks: Hunk[],
  name?: string,
): { state: 'present' } | { state: 'applied'; text: string };
export function applyPatchFile(
  patchPath: string,
  root: string,
): { path: string; state: 'present' | 'applied' }[];
export function ssh2Patches(): string[];
export function patchSsh2(): { patch: string; files: { path: string; state: 'present' | 'applied' }[] }[];
