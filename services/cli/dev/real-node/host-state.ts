import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runQuiet, tryRun } from '../host-commands.js';

/**
 * What a real node changes on the host, and how to undo it. Every function
 * here touches only what the node created: chains and tables whose names
 * were not there before it started (and carry the kubelet's, kube-proxy's or
 * the CNI plugins' prefixes), mounts below its own state directory, its own
 * bridge, the kubepods cgroups it created, the sysctls it recorded.
 */

/** Sysctls the kubelet, kube-proxy and the CNI bridge plugin set (REAL-NODE.md). */
export const TOUCHED_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.conf.all.route_localnet',
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
];

const sysctlPath = (name: string) => join('/proc/sys', ...name.split('.'));

export function readSysctls(names = TOUCHED_SYSCTLS): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of names) {
    if (existsSync(sysctlPath(name))) values[name] = readFileSync(sysctlPath(name), 'utf8').trim();
  }
  return values;
}

/** Writes back the recorded values that differ now; returns the names it restored. */
export function restoreSysctls(saved: Record<string, string>): string[] {
  const restored: string[] = [];
  for (const [name, value] of Object.entries(saved)) {
    try {
      if (readFileSync(sysctlPath(name), 'utf8').trim() !== value) {
        writeFileSync(sysctlPath(name), value);
        restored.push(name);
      }
    } catch {
      // A value this kernel does not let root write: nothing to restore.
    }
  }
  return restored;
}

export const IPTABLES = ['iptables', 'ip6tables'] as const;
export const TABLES = ['filter', 'nat', 'mangle', 'raw'] as const;
/** Chains a node may create: the kubelet's and kube-proxy's (KUBE-), the CNI plugins' (CNI-). */
const OWN_CHAIN = /^(KUBE-|CNI-)/;

/** `iptables -t T -S` chain names, per command and table (`iptables:nat`). */
export function listChains(): Record<string, string[]> {
  const chains: Record<string, string[]> = {};
  for (const command of IPTABLES) {
    for (const table of TABLES) {
      let rules = '';
      try {
        rules = runQuiet(command, ['-w', '5', '-t', table, '-S']);
      } catch {
        continue;
      }
      chains[`${command}:${table}`] = rules
        .split('\n')
        .filter((line) => line.startsWith('-N '))
        .map((line) => line.slice(3).trim());
    }
  }
  return chains;
}

/**
 * Removes every KUBE-/CNI- chain that was not in `before`: first each rule
 * (in any chain) that jumps to one, then the chains themselves. Returns the
 * chains removed.
 */
export function removeNewChains(before: Record<string, string[]>): string[] {
  const removed: string[] = [];
  for (const command of IPTABLES) {
    for (const table of TABLES) {
      const key = `${command}:${table}`;
      const existed = new Set(before[key] ?? []);
      let rules: string[];
      try {
        rules = runQuiet(command, ['-w', '5', '-t', table, '-S']).split('\n');
      } catch {
        continue;
      }
      const fresh = rules
        .filter((line) => line.startsWith('-N '))
        .map((line) => line.slice(3).trim())
        .filter((chain) => OWN_CHAIN.test(chain) && !existed.has(chain));
      if (fresh.length === 0) continue;
      const freshSet = new Set(fresh);
      for (const rule of rules) {
        const jump = / -j (\S+)/.exec(rule)?.[1];
        if (!rule.startsWith('-A ') || !jump || !freshSet.has(jump)) continue;
        const chain = rule.split(' ')[1] ?? '';
        if (freshSet.has(chain)) continue; // flushed with its chain below
        tryRun('sh', ['-c', `${command} -w 5 -t ${table} -D ${rule.slice(3)}`]);
      }
      for (const chain of fresh) tryRun(command, ['-w', '5', '-t', table, '-F', chain]);
      for (const chain of fresh) {
        if (tryRun(command, ['-w', '5', '-t', table, '-X', chain])) removed.push(`${key}:${chain}`);
      }
    }
  }
  return removed;
}

/** nftables tables (`family name`), when nft is installed. */
export function listNftTables(): string[] {
  try {
    return runQuiet('nft', ['list', 'tables'])
      .split('\n')
      .filter((line) => line.startsWith('table '))
      .map((line) => line.slice(6).trim());
  } catch {
    return [];
  }
}

/** Deletes nftables tables named kube-proxy/kubelet… that were not there before. */
export function removeNewNftTables(before: string[]): string[] {
  const removed: string[] = [];
  for (const table of listNftTables()) {
    if (before.includes(table) || !/ kube/.test(table)) continue;
    if (tryRun('nft', ['delete', 'table', ...table.split(' ')])) removed.push(table);
  }
  return removed;
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const unescapeOctal = (path: string) =>
    path.replace(/\\([0-7]{3})/g, (_, oct) => String.fromCharCode(Number.parseInt(oct, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeOctal(line.split(' ')[4] ?? ''))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything below `dir`; returns what is still mounted. */
export function unmountBelow(dir: string): string[] {
  for (let round = 0; round < 3; round += 1) {
    const points = mountsBelow(dir);
    if (points.length === 0) return [];
    for (const point of points) tryRun('umount', ['-l', point]);
  }
  return mountsBelow(dir);
}

export const CGROUP_ROOT = '/sys/fs/cgroup';
/** The cgroup the kubelet puts pods under (cgroupsPerQOS, cgroupfs driver). */
export const KUBEPODS = 'kubepods';

/** cgroup v1 controllers (directories of /sys/fs/cgroup) holding a kubepods cgroup. */
export function kubepodsCgroups(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT)
    .map((controller) => join(CGROUP_ROOT, controller, KUBEPODS))
    .filter((path) => existsSync(path));
}

/** Every process id in the cgroup trees `roots` (their cgroup.procs, recursively). */
export function processesIn(roots: string[]): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim()) pids.add(Number(line));
      }
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
      }
    } catch {
      // Removed while walking.
    }
  };
  for (const root of roots) walk(root);
  return [...pids];
}

/** Removes the cgroup trees (deepest first); returns the ones that remain. */
export function removeCgroups(roots: string[]): string[] {
  const remove = (dir: string) => {
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) remove(join(dir, entry.name));
      }
      rmdirSync(dir);
    } catch {
      // Busy or gone; reported by the caller's check.
    }
  };
  for (const root of roots) remove(root);
  return roots.filter((root) => existsSync(root));
}

/** Process ids whose command line contains `needle` (e.g. a containerd socket path). */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(needle))
        found.push(Number(entry));
    } catch {
      // Exited.
    }
  }
  return found;
}

export function linkExists(name: string): boolean {
  return existsSync(join('/sys/class/net', name));
}
