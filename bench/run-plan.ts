/**
 * What `npm run bench` measures and how much (AIRLOCK_BENCH_QUICK), and which
 * parts a run selects (AIRLOCK_BENCH_PARTS); see run.ts.
 */

export const QUICK = process.env.AIRLOCK_BENCH_QUICK === '1';
export const MIB = 1024 * 1024;
export const PLAN = QUICK
  ? {
      users: 5,
      idleSessions: 10,
      latency: { runs: 5, warmup: 1 },
      streamBytes: 8 * MIB,
      streamRuns: 2,
      moderationRuns: 1,
      load: [
        { concurrency: 1, total: 3 },
        { concurrency: 10, total: 10 },
        { concurrency: 50, total: 50 },
      ],
      audit: { events: 50, rounds: 2 },
      auditSessions: {
        rounds: 2,
        levels: [
          { concurrency: 1, total: 4 },
          { concurrency: 10, total: 20 },
        ],
      },
    }
  : {
      users: 10,
      idleSessions: 100,
      latency: { runs: 40, warmup: 5 },
      streamBytes: 64 * MIB,
      streamRuns: 5,
      moderationRuns: 5,
      load: [
        { concurrency: 1, total: 20 },
        { concurrency: 10, total: 60 },
        { concurrency: 50, total: 100 },
      ],
      audit: { events: 300, rounds: 5 },
      auditSessions: {
        rounds: 3,
        levels: [
          { concurrency: 1, total: 15 },
          { concurrency: 10, total: 60 },
        ],
      },
    };

/** The parts AIRLOCK_BENCH_PARTS can name; the first ten need the stack ('ab' only runs when named). */
export const PARTS = [
  'memory',
  'latency',
  'stdout',
  'stdin',
  'portforward',
  'sustained',
  'audit-sessions',
  'phases',
  'moderation',
  'ab',
  'audit-micro',
  'ssh-cert',
  'policy',
  'broker',
  'store',
  'replicas',
  'admission',
  // Ephemeral mode on the real node (pods.bench.ts): skipped, and said so in the report, where no real node can run.
  'ephemeral-pods',
] as const;
export type PartName = (typeof PARTS)[number];

function selectedParts(value: string | undefined): ReadonlySet<PartName> {
  if (value === undefined || value.trim() === '') return new Set(PARTS);
  const names = value.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`AIRLOCK_BENCH_PARTS: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
  return new Set(names as PartName[]);
}

export const SELECTED = selectedParts(process.env.AIRLOCK_BENCH_PARTS);
export const PARTIAL = SELECTED.size < PARTS.length;
export const want = (name: PartName) => SELECTED.has(name);

/**
 * AIRLOCK_BENCH_CPU_PROF_DIR=DIR: the phase part's tiers run with
 * `--cpu-prof`, writing their profiles into DIR when they stop.
 */
export function profileArgs(): string[] {
  const dir = process.env.AIRLOCK_BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
