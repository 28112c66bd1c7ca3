/**
 * `node dist/bench/stream-profile.js [OUT_DIR]`: CPU profiles of the tiers
 * while they move stream bytes, summarised as small text files.
 *
 * Starts the bench stack, then a mediator+executor pair run with
 * `--cpu-prof`, and sends RUNS stdout transfers (`head -c`) then RUNS stdin
 * transfers (`wc -c`) of BYTES each through that pair; one pair (and so one
 * profile per tier) per direction. When the pair stops, each `.cpuprofile`
 * is reduced to its top functions by self time and by module, written as
 * `OUT_DIR/<direction>-<tier>.txt` (default bench/profiles); the profiles
 * themselves are deleted (tens of MB each). Profiling slows the tiers, so
 * these runs are for where the time goes, not for throughput.
 * AIRLOCK_PROFILE_MIB (default 64) and AIRLOCK_PROFILE_RUNS (default 3).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../services/core/repo/repo-root.js';
import { BENCH_COMMANDS, startBenchStack, startTierPair } from './bench-stack.js';
import { Clients, type OutputFlags, stdoutRun } from './gateway.bench.js';
import { runChecked } from './process-runner.js';

const MIB = 1024 * 1024;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** Shortens a script URL to what identifies it: the package or the repository path. */
function moduleOf(url: string): string {
  if (url === '') return '(native / VM)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Top functions by self time and the time per module, as plain text. */
export function summarizeProfile(profile: CpuProfile, title: string, top = 30): string {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const perSample = totalMs / Math.max(1, profile.samples.length);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * perSample;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const mod = moduleOf(url);
    const key = `${functionName || '(anonymous)'}  ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
  }
  const busy = totalMs - idle;
  const rows = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([name, ms]) =>
          `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${name}`,
      );
  return [
    title,
    `profiled ${totalMs.toFixed(0)} ms, busy (not idle) ${busy.toFixed(0)} ms`,
    '',
    `top ${top} functions by self time (share of busy time):`,
    ...rows(byFunction, top),
    '',
    'self time by module:',
    ...rows(byModule, 15),
    '',
  ].join('\n');
}

async function profileDirection(
  direction: 'stdout' | 'stdin',
  outDir: string,
  bytes: number,
  runs: number,
): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-profile-'));
  const profDir = join(stateDir, 'profiles');
  mkdirSync(profDir);
  const stack = await startBenchStack(stateDir, () => {}, 1);
  try {
    const pair = await startTierPair(stack, stateDir, {}, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const clients = new Clients(stack);
    const user = stack.users[0]!;
    const flags: OutputFlags = { complete: 0, short: 0, received: [] };
    try {
      for (let i = 0; i < runs; i++) {
        if (direction === 'stdout') {
          // An OUTPUT_INCOMPLETE run still moved its bytes (stdoutRun counts it); the profile is what matters here.
          await stdoutRun(
            clients.gatewayExec(user, BENCH_COMMANDS.stdout(bytes), pair.sshPort),
            bytes,
            flags,
          );
        } else {
          const [ssh, args] = clients.gatewayExec(user, BENCH_COMMANDS.stdin, pair.sshPort);
          const chunk = Buffer.alloc(MIB, 0x62);
          const run = await runChecked(ssh, args, { stdin: chunk, stdinRepeat: bytes / MIB });
          if (Number(run.stdout.toString().trim()) !== bytes) throw new Error('stdin: short count');
        }
      }
    } finally {
      await pair.stop();
    }
    const pids = { mediator: pair.mediatorPid, executor: pair.executorPid };
    for (const [tier, pid] of Object.entries(pids)) {
      const file = readdirSync(profDir).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no profile for the ${tier} (pid ${pid})`);
      const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
      const title = `${tier}, ${runs} × ${bytes / MIB} MiB ${direction} (${direction === 'stdout' ? BENCH_COMMANDS.stdout(bytes).join(' ') : BENCH_COMMANDS.stdin.join(' ')}), node ${process.version}`;
      writeFileSync(join(outDir, `${direction}-${tier}.txt`), summarizeProfile(profile, title));
    }
  } finally {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? join(repoRoot(), 'bench', 'profiles');
  mkdirSync(outDir, { recursive: true });
  const bytes = Number(process.env.AIRLOCK_PROFILE_MIB ?? 64) * MIB;
  const runs = Number(process.env.AIRLOCK_PROFILE_RUNS ?? 3);
  for (const direction of ['stdout', 'stdin'] as const)
    await profileDirection(direction, outDir, bytes, runs);
  process.stdout.write(`profiles summarised in ${outDir}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
