import { readdirSync, readFileSync } from 'node:fs';

/** A live process as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** argv joined with spaces. */
  cmdline: string;
}

/**
 * Every live process, from /proc. Zombies are left out: they have exited and
 * only wait to be reaped (by init, once orphaned).
 */
export function processes(): Map<number, ProcessInfo> {
  const found = new Map<number, ProcessInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppidText] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      found.set(Number(entry), { pid: Number(entry), ppid: Number(ppidText), cmdline });
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** Every live descendant of `root`. */
export function descendants(root: number): number[] {
  const all = processes();
  const result: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, info] of all) {
      if (info.ppid === parent) {
        result.push(pid);
        queue.push(pid);
      }
    }
  }
  return result;
}

/** The subset of `pids` still alive (zombies count as gone). */
export function stillAlive(pids: readonly number[]): number[] {
  const live = processes();
  return pids.filter((pid) => live.has(pid));
}

/**
 * After a failed assertion: SIGKILL on a parent alone would orphan its
 * children, so kill the whole tree it still has.
 */
export function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const child of [pid, ...descendants(pid)]) {
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
