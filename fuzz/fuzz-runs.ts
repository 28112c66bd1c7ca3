/**
 * How many inputs each fuzz target runs, and the report of a run.
 *
 * `npm test` runs the fuzz project with a short seed (FUZZ_RUNS_CI inputs
 * per target, a fixed seed, so CI is quick and repeatable); `npm run fuzz`
 * sets AIRLOCK_FUZZ_RUNS (default 20 000) and a random seed. Any target's
 * failure is reported by fast-check with the seed, the path and the
 * shrunk input that reproduce it; set AIRLOCK_FUZZ_SEED to replay a run.
 */
import fc from 'fast-check';

/** Inputs per target in `npm test`. */
export const FUZZ_RUNS_CI = 150;

export const FUZZ_RUNS = Number(process.env.AIRLOCK_FUZZ_RUNS) || FUZZ_RUNS_CI;

const seedText = process.env.AIRLOCK_FUZZ_SEED;
/** Fixed in CI; random for a long run unless AIRLOCK_FUZZ_SEED pins it. */
export const FUZZ_SEED =
  seedText !== undefined && seedText !== ''
    ? Number(seedText)
    : process.env.AIRLOCK_FUZZ_RUNS
      ? Math.floor(Math.random() * 2 ** 31)
      : 20261127;

/** Per-target scale: `weight` × FUZZ_RUNS (slow targets, such as the gRPC one, run fewer). */
export function fuzzParameters<T>(weight = 1): fc.Parameters<T> {
  return { numRuns: Math.max(10, Math.round(FUZZ_RUNS * weight)), seed: FUZZ_SEED };
}

/** Runs a fuzz property and prints how many inputs it ran, for the long run's report. */
export async function fuzz<T>(
  target: string,
  property: fc.IProperty<T> | fc.IAsyncProperty<T>,
  weight = 1,
): Promise<void> {
  const parameters = fuzzParameters<T>(weight);
  const started = Date.now();
  await fc.assert(property as fc.IAsyncProperty<T>, parameters);
  process.stdout.write(
    `fuzz ${target}: ${parameters.numRuns} inputs, 0 failures, seed ${FUZZ_SEED}, ${Date.now() - started} ms\n`,
  );
}
