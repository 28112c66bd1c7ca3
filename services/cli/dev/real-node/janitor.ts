/**
 * The real node's janitor: a detached process started by the cluster
 * process before it changes anything on the host. It waits for its stdin to
 * close, which happens when the cluster process stops the node or dies
 * (SIGKILL included), then undoes everything the node did (host-state.ts):
 * kills the node's processes and the pods' processes, unmounts, deletes the
 * bridge, the iptables chains and nftables tables the node created and the
 * kubepods cgroups, restores the sysctls, and releases the machine lock.
 * What it did and anything it could not undo goes to `<stateDir>/janitor.json`.
 *
 * Usage: node janitor.js RECORD.json
 */
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryRun } from '../host-commands.js';
import {
  kubepodsCgroups,
  linkExists,
  processesIn,
  processesMentioning,
  removeCgroups,
  removeNewChains,
  removeNewNftTables,
  restoreSysctls,
  unmountBelow,
} from './host-state.js';

/** Written by real-node.ts before it starts anything, updated as processes start. */
export interface JanitorRecord {
  stateDir: string;
  /** Remove stateDir when done (it was a temp dir). */
  removeStateDir: boolean;
  lockFile: string;
  bridge: string;
  containerdSocket: string;
  sysctls: Record<string, string>;
  chains: Record<string, string[]>;
  nftTables: string[];
  /** Node processes, in start order (containerd first); stopped newest first. */
  pids: number[];
  /** The control plane (etcd, apiserver, controller manager): stopped last, should the cluster process die. */
  controlPlanePids: number[];
  /** Directories outside stateDir containerd creates (its shim sockets' /run/containerd/s) that did not exist before: removed when empty. */
  createdDirs: string[];
}

export interface JanitorReport {
  finishedAt: string;
  restoredSysctls: string[];
  removedChains: string[];
  removedNftTables: string[];
  killedPodProcesses: number;
  left: { mounts: string[]; cgroups: string[]; bridge: boolean; processes: number[] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function killAll(pids: number[], graceMs: number): Promise<number[]> {
  for (const pid of pids) if (alive(pid)) tryKill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(100);
  for (const pid of pids) if (alive(pid)) tryKill(pid, 'SIGKILL');
  await sleep(200);
  return pids.filter(alive);
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}

/** Removes /var/log/containers links that point into the node's state dir. */
function removeLogLinks(stateDir: string): void {
  const dir = '/var/log/containers';
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    try {
      if (lstatSync(path).isSymbolicLink() && readlinkSync(path).startsWith(`${stateDir}/`)) rmSync(path);
    } catch {
      // Raced with another remover.
    }
  }
}

export async function cleanUp(record: JanitorRecord): Promise<JanitorReport> {
  // The kubelet first (it would restart containers), then kube-proxy, the scheduler, containerd last.
  const nodeProcesses = [...record.pids].reverse();
  const [kubeletEtc, containerd] = [nodeProcesses.slice(0, -1), nodeProcesses.slice(-1)];
  await killAll(kubeletEtc, 5_000);
  let killedPodProcesses = 0;
  for (let round = 0; round < 20; round += 1) {
    const pods = processesIn(kubepodsCgroups());
    if (pods.length === 0) break;
    killedPodProcesses += pods.length;
    for (const pid of pods) tryKill(pid, 'SIGKILL');
    await sleep(250);
  }
  await killAll(processesMentioning(record.containerdSocket), 2_000);
  await killAll(containerd, 10_000);
  const mounts = unmountBelow(record.stateDir);
  if (linkExists(record.bridge)) tryRun('ip', ['link', 'delete', record.bridge]);
  const removedChains = removeNewChains(record.chains);
  const removedNftTables = removeNewNftTables(record.nftTables);
  const cgroups = removeCgroups(kubepodsCgroups());
  const restoredSysctls = restoreSysctls(record.sysctls);
  removeLogLinks(record.stateDir);
  for (const dir of record.createdDirs) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty (someone else's) or gone.
    }
  }
  await killAll(record.controlPlanePids, 5_000);
  const report: JanitorReport = {
    finishedAt: new Date().toISOString(),
    restoredSysctls,
    removedChains,
    removedNftTables,
    killedPodProcesses,
    left: {
      mounts,
      cgroups,
      bridge: linkExists(record.bridge),
      processes: [
        ...record.pids,
        ...record.controlPlanePids,
        ...processesMentioning(record.containerdSocket),
      ].filter(alive),
    },
  };
  if (record.removeStateDir && mounts.length === 0) rmSync(record.stateDir, { recursive: true, force: true });
  else writeFileSync(join(record.stateDir, 'janitor.json'), `${JSON.stringify(report, null, 2)}\n`);
  rmSync(record.lockFile, { force: true });
  return report;
}

async function main(recordPath: string): Promise<void> {
  process.on('SIGINT', () => {}); // Ctrl-C in the terminal is for the cluster process.
  const trigger = new Promise<void>((resolve) => {
    process.stdin.on('data', () => {});
    process.stdin.on('end', resolve);
    process.stdin.on('error', () => resolve());
    process.on('SIGTERM', resolve);
    process.on('SIGHUP', resolve);
  });
  await trigger;
  if (!existsSync(recordPath)) return;
  const record = JSON.parse(readFileSync(recordPath, 'utf8')) as JanitorRecord;
  const report = await cleanUp(record);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1]?.endsWith('janitor.js') && process.argv[2]) {
  main(process.argv[2]).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`janitor: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
